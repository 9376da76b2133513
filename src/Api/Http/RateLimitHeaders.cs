using System.Globalization;
using System.Runtime.CompilerServices;
using IronAuth.Api.Contracts;
using IronAuth.Core.Limits;
using IronAuth.Core.Tokens;
using Microsoft.AspNetCore.Http;

namespace IronAuth.Api.Http;

/// <summary>
/// Rate-limit headers on every response to an API-token request, in the IETF httpapi draft's current form —
/// <c>RateLimit-Policy: "bucket";q=CAPACITY;w=SECONDS-TO-REFILL</c> and <c>RateLimit: "bucket";r=LEFT;t=SECONDS-TO-FULL</c>
/// (draft-ietf-httpapi-ratelimit-headers) — and in the older three-header form clients already read:
/// RateLimit-Limit / -Remaining / -Reset (the bucket's capacity, the whole tokens left, the seconds until it is full).
/// </summary>
public static class RateLimitHeaders
{
    public static RateLimitInfo? Info(TokenVerdict verdict) =>
        verdict is { Bucket: { } bucket, Limits: { } limits }
            ? new RateLimitInfo(limits.Burst, bucket.Remaining, (long)Math.Ceiling(bucket.ResetAfter.TotalSeconds))
            : null;

    public static void Write(HttpResponse response, TokenVerdict verdict)
    {
        if (Info(verdict) is not { } info)
        {
            return;
        }

        var (policy, limit) = PolicyOf(verdict.Limits!);
        response.Headers["RateLimit-Policy"] = policy;
        response.Headers["RateLimit"] = string.Create(CultureInfo.InvariantCulture, $"\"bucket\";r={info.Remaining};t={info.Reset}");
        response.Headers["RateLimit-Limit"] = limit;
        response.Headers["RateLimit-Remaining"] = info.Remaining.ToString(CultureInfo.InvariantCulture);
        response.Headers["RateLimit-Reset"] = info.Reset.ToString(CultureInfo.InvariantCulture);
    }

    // The two headers that depend on a token's limits alone, formatted once per limits the token checks hand out.
    private static readonly ConditionalWeakTable<EffectiveLimits, Tuple<string, string>> Policies = [];

    private static (string Policy, string Limit) PolicyOf(EffectiveLimits limits)
    {
        var (policy, limit) = Policies.GetValue(limits, static limits =>
        {
            // The window of a token bucket: how long an empty bucket takes to fill.
            var window = (long)Math.Ceiling(limits.Burst / limits.RequestsPerSecond);
            return Tuple.Create(
                string.Create(CultureInfo.InvariantCulture, $"\"bucket\";q={limits.Burst};w={Math.Max(1, window)}"),
                limits.Burst.ToString(CultureInfo.InvariantCulture));
        });
        return (policy, limit);
    }

    public static QuotaInfo? Quota(TokenVerdict verdict) =>
        verdict is { Usage: { } usage, Limits: { } limits } ? QuotaInfo.From(usage.Day, limits.Quota, usage.Exhausted) : null;
}
