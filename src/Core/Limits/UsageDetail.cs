using System.Buffers;
using System.Globalization;
using System.Text;

namespace IronAuth.Core.Limits;

/// <summary>
/// What a usage report may say beyond its counts: an idempotency key (<paramref name="RequestId"/>: the same key for
/// the same token counts once and answers as the first time did) and what the LLM tokens were spent on. A report
/// without any of these carries no detail at all (<see cref="UsageDelta.Detail"/> is null), and the metering path
/// then does nothing beyond what it did before detail existed.
/// </summary>
/// <param name="RequestId">The caller's idempotency key, already namespaced by <see cref="UsageRequestKind"/>.</param>
/// <param name="Model">The model, or null (counted under "" in the breakdown).</param>
/// <param name="Provider">The provider, or null (counted under "").</param>
/// <param name="InputTokens">Prompt tokens; with <paramref name="OutputTokens"/> they sum to the delta's tokens.</param>
/// <param name="OutputTokens">Completion tokens.</param>
public sealed record UsageDetail(string? RequestId, string? Model, string? Provider, long InputTokens, long OutputTokens)
{
    public const int MaxRequestIdLength = 128;

    public const int MaxNameLength = 64;

    /// <summary>
    /// Distinct (provider, model) pairs kept per token per day; usage of further pairs that day is counted under
    /// <see cref="Other"/>, so a token's breakdown never grows beyond this many rows a day, whatever callers send.
    /// </summary>
    public const int MaxPairsPerDay = 32;

    /// <summary>The provider and model of the overflow pair: outside the names' charset, so no caller can send it.</summary>
    public const string Other = "*";

    // Request ids: what idempotency keys usually are (UUIDs, ULIDs, gateway ids). Names: model and provider
    // identifiers as vendors spell them ("gpt-4o-2024-08-06", "anthropic", "meta-llama/Llama-3.1-8B", "x@v2").
    private static readonly SearchValues<char> RequestIdChars = SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-");
    private static readonly SearchValues<char> NameChars = SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-/@+");

    /// <summary>Whether the use is counted in the per-model breakdown (it names a model or provider, or splits its tokens).</summary>
    public bool HasBreakdown => Model is not null || Provider is not null || InputTokens > 0 || OutputTokens > 0;

    /// <summary>
    /// Checks a report's detail (names prefixed with <paramref name="prefix"/>) and works out the tokens it counts:
    /// input and output, when either is given, sum to the tokens, and a <paramref name="tokens"/> also given must
    /// equal that sum. Returns the detail (null when the report has none) and the tokens to count, or a failure.
    /// </summary>
    public static Result<(UsageDetail? Detail, long Tokens)> From(
        UsageRequestKind kind, string? requestId, string? model, string? provider, long? inputTokens, long? outputTokens, long tokens, string prefix = "")
    {
        if (requestId is not null && !IsWellFormed(requestId, MaxRequestIdLength, RequestIdChars))
        {
            return Failure.Validation($"{prefix}request_id must be 1 to {MaxRequestIdLength} characters of letters, digits and . _ : -");
        }

        if (model is not null && !IsWellFormed(model, MaxNameLength, NameChars))
        {
            return Failure.Validation($"{prefix}model must be 1 to {MaxNameLength} characters of letters, digits and . _ : - / @ +");
        }

        if (provider is not null && !IsWellFormed(provider, MaxNameLength, NameChars))
        {
            return Failure.Validation($"{prefix}provider must be 1 to {MaxNameLength} characters of letters, digits and . _ : - / @ +");
        }

        if (inputTokens is < 0 or > UsageBounds.MaxTokens || outputTokens is < 0 or > UsageBounds.MaxTokens)
        {
            return Failure.Validation($"{prefix}input_tokens and output_tokens must be from 0 to {UsageBounds.MaxTokens}.");
        }

        var input = inputTokens ?? 0;
        var output = outputTokens ?? 0;
        if (inputTokens is not null || outputTokens is not null)
        {
            var sum = input + output;
            if (sum > UsageBounds.MaxTokens)
            {
                return Failure.Validation($"{prefix}input_tokens + output_tokens must be at most {UsageBounds.MaxTokens}.");
            }

            if (tokens != 0 && tokens != sum)
            {
                return Failure.Validation($"{prefix}tokens must equal input_tokens + output_tokens (or be left out).");
            }

            tokens = sum;
        }

        if (requestId is null && model is null && provider is null && inputTokens is null && outputTokens is null)
        {
            return (null, tokens);
        }

        return (new UsageDetail(requestId is null ? null : kind.Prefix() + requestId, model, provider, input, output), tokens);
    }

    private static bool IsWellFormed(string value, int maxLength, SearchValues<char> allowed) =>
        value.Length > 0 && value.Length <= maxLength && !value.AsSpan().ContainsAnyExcept(allowed);
}

/// <summary>Which report an idempotency key belongs to: a verify's and an after-the-fact record's keys never meet.</summary>
public enum UsageRequestKind
{
    Verify,
    Record,
}

/// <summary>
/// The answer a counted use with an idempotency key gave, as stored beside the key so a repeat answers the same
/// (one line of text, the same in both stores). Only counted uses are stored: a refused one counted nothing, so a
/// retry with its key is a new attempt.
/// </summary>
public static class UsageReplay
{
    private const string Version = "1";

    /// <summary>How long a key is kept at least: maintenance drops keys stored before now minus this.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromDays(1);

    public static string Prefix(this UsageRequestKind kind) => kind == UsageRequestKind.Verify ? "v:" : "u:";

    public static string Encode(BucketTake? bucket, UsageOutcome usage)
    {
        var invariant = CultureInfo.InvariantCulture;
        var text = new StringBuilder(Version);
        if (bucket is { } b)
        {
            text.Append(invariant, $";b;{(b.Admitted ? 1 : 0)};{b.Remaining};{(long)b.RetryAfter.TotalMilliseconds};{(long)b.ResetAfter.TotalMilliseconds}");
        }
        else
        {
            text.Append(";-;0;0;0;0");
        }

        var day = usage.Day;
        text.Append(invariant, $";{(usage.Added ? 1 : 0)};{day.Day:yyyy-MM-dd};{day.Requests};{day.Tokens};{day.CostMicros};{(int)usage.Exhausted}");
        return text.ToString();
    }

    /// <summary>The stored answer for token <paramref name="tokenId"/>; throws on text no version of this code wrote (a bug).</summary>
    public static MeteredUse Decode(string tokenId, string text)
    {
        var parts = text.Split(';');
        if (parts.Length != 12 || parts[0] != Version)
        {
            throw new FormatException("A stored usage answer has an unknown form.");
        }

        var invariant = CultureInfo.InvariantCulture;
        var bucket = parts[1] == "b"
            ? new BucketTake(parts[2] == "1", int.Parse(parts[3], invariant), TimeSpan.FromMilliseconds(long.Parse(parts[4], invariant)), TimeSpan.FromMilliseconds(long.Parse(parts[5], invariant)))
            : new BucketTake(true, 0, TimeSpan.Zero, TimeSpan.Zero);
        var day = new UsageDay(
            tokenId, DateOnly.ParseExact(parts[7], "yyyy-MM-dd", invariant), long.Parse(parts[8], invariant), long.Parse(parts[9], invariant), long.Parse(parts[10], invariant));
        return new MeteredUse(bucket, new UsageOutcome(parts[6] == "1", day, (QuotaKind)int.Parse(parts[11], invariant))) { Replayed = true };
    }
}
