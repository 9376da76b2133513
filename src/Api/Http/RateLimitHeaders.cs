using System.Globalization;
using IronAuth.Api.Contracts;
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

        // The window of a token bucket: how long an empty bucket takes to fill.
        var window = (long)Math.Ceiling(verdict.Limits!.Burst / verdict.Limits.RequestsPerSecond);
        response.Headers["RateLimit-Policy"] = string.Create(CultureInfo.InvariantCulture, $"\"bucket\";q={info.Limit};w={Math.Max(1, window)}");
        response.Headers["RateLimit"] = string.Create(CultureInfo.InvariantCulture, $"\"bucket\";r={info.Remaining};t={info.Reset}");
        response.Headers["RateLimit-Limit"] = info.Limit.ToString(CultureInfo.InvariantCulture);
        response.Headers["RateLimit-Remaining"] = info.Remaining.ToString(CultureInfo.InvariantCulture);
        response.Headers["RateLimit-Reset"] = info.Reset.ToString(CultureInfo.InvariantCulture);
    }

    public static QuotaInfo? Quota(TokenVerdict verdict) =>
        verdict is { Usage: { } usage, Limits: { } limits } ? QuotaInfo.From(usage.Day, limits.Quota, usage.Exhausted) : null;
}
