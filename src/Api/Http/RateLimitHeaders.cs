using System.Globalization;
using IronAuth.Api.Contracts;
using IronAuth.Core.Tokens;
using Microsoft.AspNetCore.Http;

namespace IronAuth.Api.Http;

/// <summary>
/// RateLimit-Limit / -Remaining / -Reset on every response to an API-token request: the bucket's capacity,
/// the whole tokens left, and the seconds until it is full again.
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

        response.Headers["RateLimit-Limit"] = info.Limit.ToString(CultureInfo.InvariantCulture);
        response.Headers["RateLimit-Remaining"] = info.Remaining.ToString(CultureInfo.InvariantCulture);
        response.Headers["RateLimit-Reset"] = info.Reset.ToString(CultureInfo.InvariantCulture);
    }

    public static QuotaInfo? Quota(TokenVerdict verdict) =>
        verdict is { Usage: { } usage, Limits: { } limits } ? QuotaInfo.From(usage.Day, limits.Quota, usage.Exhausted) : null;
}
