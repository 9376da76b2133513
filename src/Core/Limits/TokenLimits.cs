using IronAuth.Core.Configuration;

namespace IronAuth.Core.Limits;

/// <summary>
/// Per-token limits as requested; each 0 means "use the default" for the bucket and "no cap" for quotas
/// unless the configured default sets one.
/// </summary>
public sealed record TokenLimits(double RequestsPerSecond = 0, int Burst = 0, long DailyRequests = 0, long DailyTokens = 0, decimal DailyCost = 0)
{
    public static TokenLimits None { get; } = new();

    public Failure? Validate()
    {
        if (RequestsPerSecond < 0 || double.IsNaN(RequestsPerSecond) || RequestsPerSecond > 1_000_000 || Burst is < 0 or > 1_000_000)
        {
            return Failure.Validation("limits.requests_per_second must be 0 to 1000000 and limits.burst 0 to 1000000.");
        }

        if (DailyRequests < 0 || DailyTokens < 0 || DailyCost < 0 || !Money.IsRepresentable(DailyCost))
        {
            return Failure.Validation($"limits.daily_* must be 0 or positive; daily_cost has at most {Money.Decimals} decimal places.");
        }

        return null;
    }

    /// <summary>The limits in force: this token's where set, the configured defaults elsewhere.</summary>
    public EffectiveLimits Resolve(IronAuthOptions options) => new(
        RequestsPerSecond > 0 ? RequestsPerSecond : options.RateLimits.RequestsPerSecond,
        Burst > 0 ? Burst : options.RateLimits.Burst,
        new Quota(
            DailyRequests > 0 ? DailyRequests : options.Quotas.DailyRequests,
            DailyTokens > 0 ? DailyTokens : options.Quotas.DailyTokens,
            Money.ToMicros(DailyCost > 0 ? DailyCost : options.Quotas.DailyCost)));
}

/// <summary>The bucket and the daily caps that apply to one token.</summary>
public sealed record EffectiveLimits(double RequestsPerSecond, int Burst, Quota Quota);

/// <summary>Daily caps; 0 means no cap. Cost is in micros (see <see cref="Money"/>).</summary>
public sealed record Quota(long DailyRequests, long DailyTokens, long DailyCostMicros);
