using System.Collections.Concurrent;
using System.Diagnostics;
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

/// <summary>The full answer about one use of an API token.</summary>
public sealed record TokenVerdict(
    VerdictCode Code,
    ApiToken? Token = null,
    User? Owner = null,
    IReadOnlySet<string>? Scopes = null,
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
        if (!ApiTokenFormat.IsWellFormed(presented))
        {
            return Counted(activity, new TokenVerdict(VerdictCode.Malformed));
        }

        var digest = Ids.Digest(presented);
        var token = await cache.GetTokenAsync(digest, (known, ct) => known is null ? tokens.FindByDigestAsync(digest, ct) : tokens.RefreshAsync(known, ct), cancellationToken);
        if (token is null)
        {
            return Counted(activity, new TokenVerdict(VerdictCode.NotFound));
        }

        var now = time.GetUtcNow();
        if (token.RevokedAt is not null)
        {
            return Counted(activity, new TokenVerdict(VerdictCode.Revoked, token));
        }

        if (token.ExpiresAt <= now)
        {
            return Counted(activity, new TokenVerdict(VerdictCode.Expired, token));
        }

        var owner = await cache.GetUserAsync(token.UserId, () => users.FindByIdAsync(token.UserId, cancellationToken));
        if (owner is not { IsActive: true })
        {
            return Counted(activity, new TokenVerdict(VerdictCode.OwnerInactive, token, owner));
        }

        var scopes = EffectiveScopes(token, owner);
        var limits = token.Limits.Resolve(options.Value);
        // One store call for the bucket and the quota: the Table store answers it in one round trip.
        MeteredUse metered;
        using (IronAuthTracing.Source.StartActivity("ironauth.metering.take_and_count"))
        {
            metered = await metering.TakeAndCountAsync(token.Id, limits, new UsageDelta(1, llmTokens, Money.ToMicros(cost)) { Detail = detail }, now, cancellationToken);
        }

        var (bucket, counted) = metered;
        if (!bucket.Admitted)
        {
            return Counted(activity, new TokenVerdict(VerdictCode.RateLimited, token, owner, scopes, limits, bucket));
        }

        if (counted is not { Added: true })
        {
            return Counted(activity, new TokenVerdict(VerdictCode.QuotaExceeded, token, owner, scopes, limits, bucket, counted));
        }

        await TouchAsync(token, now, cancellationToken);
        return Counted(activity, new TokenVerdict(VerdictCode.Valid, token, owner, scopes, limits, bucket, counted) { Replayed = metered.Replayed });
    }

    // Every verdict is counted where it is decided: no second async frame on the benchmarked path.
    private TokenVerdict Counted(Activity? activity, TokenVerdict verdict)
    {
        metrics.TokenVerified(verdict.Code);
        activity?.SetTag("ironauth.verdict", TokenVerdict.ToWire(verdict.Code));
        return verdict;
    }

    /// <summary>What a token may do now: its scopes, narrowed to what its owner's role holds today.</summary>
    public static IReadOnlySet<string> EffectiveScopes(ApiToken token, User owner)
    {
        var role = Permissions.Of(owner.Role);
        // A small HashSet: built per use, where a FrozenSet's up-front analysis costs more than its lookups save.
        return token.Scopes.Where(role.Contains).ToHashSet(StringComparer.Ordinal);
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
