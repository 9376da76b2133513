using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using IronAuth.Core.Caching;
using IronAuth.Core.Configuration;
using IronAuth.Core.Limits;
using IronAuth.Core.Telemetry;
using IronAuth.Core.Users;
using Microsoft.Extensions.Options;

namespace IronAuth.Core.Tokens;

/// <summary>Why a token was or was not accepted; the wire names are design.md's verdict codes.</summary>
public enum VerdictCode
{
    Valid,
    Malformed,
    NotFound,
    Expired,
    Revoked,
    OwnerInactive,
    RateLimited,
    QuotaExceeded,
}

/// <summary>
/// An API token checked but not used (<see cref="TokenVerifier.CheckAsync"/>): refused (<see cref="Refusal"/>, the final
/// verdict), or known, live and owned by an active user, with what it may do.
/// </summary>
public sealed record TokenCheck(TokenVerdict? Refusal, ApiToken? Token = null, User? Owner = null, ScopeSet? Scopes = null, EffectiveLimits? Limits = null);

/// <summary>The full answer about one use of an API token.</summary>
public sealed record TokenVerdict(
    VerdictCode Code,
    ApiToken? Token = null,
    User? Owner = null,
    ScopeSet? Scopes = null,
    EffectiveLimits? Limits = null,
    BucketTake? Bucket = null,
    UsageOutcome? Usage = null)
{
    public bool IsValid => Code == VerdictCode.Valid;

    /// <summary>The answer of an earlier verify with the same idempotency key (nothing was counted this time).</summary>
    public bool Replayed { get; init; }

    /// <summary>Why the token was refused, as the failure a request bearing it gets (<paramref name="now"/> for Retry-After).</summary>
    public Failure ToFailure(DateTimeOffset now) => Code switch
    {
        VerdictCode.RateLimited => new Failure(FailureKind.TooManyRequests, "rate_limited", "This API token's rate limit is exhausted; slow down.")
        {
            RetryAfter = Bucket!.RetryAfter,
        },
        VerdictCode.QuotaExceeded => new Failure(FailureKind.TooManyRequests, "quota_exceeded",
            $"This API token's {Usage!.Exhausted.ToWire()} quota for today (UTC) is used up.")
        {
            // Quotas are per UTC day: the next one starts at midnight.
            RetryAfter = now.UtcDateTime.Date.AddDays(1) - now.UtcDateTime,
        },
        VerdictCode.Malformed => InvalidToken("The API token is malformed (wrong length, characters or checksum)."),
        VerdictCode.NotFound => InvalidToken("The API token is not known."),
        VerdictCode.Expired => InvalidToken("The API token has expired."),
        VerdictCode.Revoked => InvalidToken("The API token has been revoked."),
        VerdictCode.OwnerInactive => InvalidToken("The API token's owner is suspended or deleted."),
        _ => throw new InvalidOperationException("A valid verdict is no failure."),
    };

    private static Failure InvalidToken(string detail) => new(FailureKind.Unauthorized, "invalid_token", detail);

    public static string ToWire(VerdictCode code) => code switch
    {
        VerdictCode.Valid => "valid",
        VerdictCode.Malformed => "malformed",
        VerdictCode.NotFound => "not_found",
        VerdictCode.Expired => "expired",
        VerdictCode.Revoked => "revoked",
        VerdictCode.OwnerInactive => "owner_inactive",
        VerdictCode.RateLimited => "rate_limited",
        VerdictCode.QuotaExceeded => "quota_exceeded",
        _ => throw new ArgumentOutOfRangeException(nameof(code)),
    };
}

/// <summary>
/// Checks one use of an API token, in order: shape and checksum (no store lookup), known, unexpired,
/// unrevoked, owner active (token and owner from <see cref="CredentialCache"/> when warm); then one store call
/// (<see cref="IMeteringStore"/>) takes from its rate bucket and counts the request (and any LLM tokens and
/// cost reported with it) against today's quotas; last_used_at is coalesced.
/// </summary>
public sealed class TokenVerifier(
    IApiTokenStore tokens,
    IUserStore users,
    IMeteringStore metering,
    CredentialCache cache,
    IronAuthMetrics metrics,
    IOptions<IronAuthOptions> options,
    TimeProvider time)
{
    private readonly ConcurrentDictionary<string, DateTimeOffset> lastTouched = new(StringComparer.Ordinal);
    private readonly ConditionalWeakTable<ApiToken, TokenCheck> checks = [];

    public Task<TokenVerdict> VerifyAsync(string presented, long llmTokens, decimal cost, CancellationToken cancellationToken) =>
        VerifyAsync(presented, llmTokens, cost, null, cancellationToken);

    /// <param name="detail">
    /// The report's idempotency key and model breakdown (<see cref="UsageDetail.From"/>), or null. A use whose key
    /// counted before is answered from what it stored then (<see cref="MeteredUse.Replayed"/>): valid, with that
    /// use's rate-limit and quota figures, and counted once.
    /// </param>
    public async Task<TokenVerdict> VerifyAsync(string presented, long llmTokens, decimal cost, UsageDetail? detail, CancellationToken cancellationToken)
    {
        // A span per verify (null, and free, without a listener); the verdict is its one attribute.
        using var activity = IronAuthTracing.Source.StartActivity("ironauth.token.verify");
        var check = await CheckAsync(presented, cancellationToken);
        return Counted(activity, check.Refusal ?? await MeterAsync(check, llmTokens, cost, detail, cancellationToken));
    }

    /// <summary>
    /// Everything about <paramref name="presented"/> except its use: shape, known, unrevoked, unexpired, owner active,
    /// its scopes and limits. Nothing is metered; a refusal here is final (and counted as a verdict by whoever
    /// finishes the check: <see cref="VerifyAsync(string, long, decimal, UsageDetail?, CancellationToken)"/>, <see cref="UseAsync"/>).
    /// </summary>
    public async ValueTask<TokenCheck> CheckAsync(string presented, CancellationToken cancellationToken)
    {
        if (!ApiTokenFormat.HasShape(presented))
        {
            return new TokenCheck(new TokenVerdict(VerdictCode.Malformed));
        }

        // The checksum is for refusing a mistyped token without a store lookup, so it is checked only before one: a
        // digest the cache holds is a token that exists (only hits are cached), whose checksum is right by construction.
        var digest = Ids.Digest(presented);
        var token = await cache.GetTokenAsync(digest, (tokens, presented, digest), LoadToken, cancellationToken);
        if (token is null)
        {
            return new TokenCheck(new TokenVerdict(ApiTokenFormat.HasValidChecksum(presented) ? VerdictCode.NotFound : VerdictCode.Malformed));
        }

        if (token.RevokedAt is not null)
        {
            return new TokenCheck(new TokenVerdict(VerdictCode.Revoked, token));
        }

        if (token.ExpiresAt <= time.GetUtcNow())
        {
            return new TokenCheck(new TokenVerdict(VerdictCode.Expired, token));
        }

        var owner = await cache.GetUserAsync(token.UserId, (users, token.UserId, cancellationToken), static state => state.users.FindByIdAsync(state.UserId, state.cancellationToken));
        if (owner is not { IsActive: true })
        {
            return new TokenCheck(new TokenVerdict(VerdictCode.OwnerInactive, token, owner));
        }

        // What a token may do depends only on the token and its owner's row, so it is worked out once per pair the cache
        // hands out (both are replaced, never changed, when they change) rather than on every use.
        if (!checks.TryGetValue(token, out var check) || !ReferenceEquals(check.Owner, owner))
        {
            check = new TokenCheck(null, token, owner, EffectiveScopes(token, owner), token.Limits.Resolve(options.Value));
            checks.AddOrUpdate(token, check);
        }

        return check;
    }

    private static Task<ApiToken?> LoadToken((IApiTokenStore Tokens, string Presented, byte[] Digest) state, ApiToken? known, CancellationToken cancellationToken) =>
        known is not null ? state.Tokens.RefreshAsync(known, cancellationToken)
        : ApiTokenFormat.HasValidChecksum(state.Presented) ? state.Tokens.FindByDigestAsync(state.Digest, cancellationToken)
        : Task.FromResult<ApiToken?>(null);

    /// <summary>The use of a token checked by <see cref="CheckAsync"/> (a request authenticated by it): its verdict, counted.</summary>
    public async Task<TokenVerdict> UseAsync(TokenCheck check, CancellationToken cancellationToken) =>
        Counted(null, check.Refusal ?? await MeterAsync(check, 0, 0, null, cancellationToken));

    /// <summary>
    /// A caller authenticated by its own API token (<paramref name="caller"/>, checked by <see cref="CheckAsync"/>, not
    /// yet used) verifies <paramref name="presented"/>: both uses are metered in one store step
    /// (<see cref="IMeteringStore.TakeAndCountBothAsync"/>), the presented token's only when the caller's went through.
    /// The caller's verdict, and the presented token's when the caller's was valid (null otherwise: nothing of it was spent).
    /// </summary>
    public async Task<(TokenVerdict Caller, TokenVerdict? Verified)> VerifyForAsync(
        TokenCheck caller, string presented, long llmTokens, decimal cost, UsageDetail? detail, CancellationToken cancellationToken)
    {
        using var activity = IronAuthTracing.Source.StartActivity("ironauth.token.verify");
        var check = await CheckAsync(presented, cancellationToken);
        if (caller.Refusal is not null || check.Refusal is not null)
        {
            // Nothing to meter together: the caller's use alone, and the presented token's refusal if the caller went through.
            var own = await UseAsync(caller, cancellationToken);
            return (own, own.IsValid ? Counted(activity, check.Refusal!) : null);
        }

        var now = time.GetUtcNow();
        (MeteredUse First, MeteredUse? Then) metered;
        using (IronAuthTracing.Source.StartActivity("ironauth.metering.take_and_count"))
        {
            metered = await metering.TakeAndCountBothAsync(Request(caller, 0, 0, null, now), Request(check, llmTokens, cost, detail, now), cancellationToken);
        }

        var callerVerdict = Counted(null, await DecidedAsync(caller, metered.First, now, cancellationToken));
        return (callerVerdict, metered.Then is { } then ? Counted(activity, await DecidedAsync(check, then, now, cancellationToken)) : null);
    }

    private async Task<TokenVerdict> MeterAsync(TokenCheck check, long llmTokens, decimal cost, UsageDetail? detail, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        // One store call for the bucket and the quota: the Table store answers it in one round trip.
        MeteredUse metered;
        using (IronAuthTracing.Source.StartActivity("ironauth.metering.take_and_count"))
        {
            var request = Request(check, llmTokens, cost, detail, now);
            metered = await metering.TakeAndCountAsync(request.TokenId, request.Limits, request.Delta, now, cancellationToken);
        }

        return await DecidedAsync(check, metered, now, cancellationToken);
    }

    private static MeteringRequest Request(TokenCheck check, long llmTokens, decimal cost, UsageDetail? detail, DateTimeOffset now) =>
        new(check.Token!.Id, check.Limits!, new UsageDelta(1, llmTokens, Money.ToMicros(cost)) { Detail = detail }, now);

    private async ValueTask<TokenVerdict> DecidedAsync(TokenCheck check, MeteredUse metered, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var (token, owner, scopes, limits) = (check.Token!, check.Owner, check.Scopes, check.Limits);
        var (bucket, counted) = metered;
        if (!bucket.Admitted)
        {
            return new TokenVerdict(VerdictCode.RateLimited, token, owner, scopes, limits, bucket);
        }

        if (counted is not { Added: true })
        {
            return new TokenVerdict(VerdictCode.QuotaExceeded, token, owner, scopes, limits, bucket, counted);
        }

        await TouchAsync(token, now, cancellationToken);
        return new TokenVerdict(VerdictCode.Valid, token, owner, scopes, limits, bucket, counted) { Replayed = metered.Replayed };
    }

    // Every verdict is counted once, by the public method that hands it out.
    private TokenVerdict Counted(Activity? activity, TokenVerdict verdict)
    {
        metrics.TokenVerified(verdict.Code);
        activity?.SetTag("ironauth.verdict", TokenVerdict.ToWire(verdict.Code));
        return verdict;
    }

    /// <summary>What a token may do now: its scopes, narrowed to what its owner's role holds today.</summary>
    public static ScopeSet EffectiveScopes(ApiToken token, User owner)
    {
        var role = Permissions.Of(owner.Role);
        return new ScopeSet(token.Scopes.Where(role.Contains));
    }

    private async Task TouchAsync(ApiToken token, DateTimeOffset now, CancellationToken cancellationToken)
    {
        // One write per token per resolution interval, not one per request.
        var resolution = options.Value.Tokens.LastUsedResolution;
        var last = lastTouched.GetValueOrDefault(token.Id, token.LastUsedAt ?? DateTimeOffset.MinValue);
        if (now - last < resolution)
        {
            return;
        }

        lastTouched[token.Id] = now;
        await tokens.TouchAsync(token.Id, now, cancellationToken);
    }
}
