using IronAuth.Core.Limits;
using IronAuth.Core.Tokens;

namespace IronAuth.Api.Contracts;

/// <summary>design.md's <c>limits</c> object; 0 or absent means the default for the bucket and no cap for quotas.</summary>
public sealed record LimitsDto(
    double RequestsPerSecond = 0, int Burst = 0, long DailyRequests = 0, long DailyTokens = 0, decimal DailyCost = 0)
{
    public TokenLimits ToLimits() => new(RequestsPerSecond, Burst, DailyRequests, DailyTokens, DailyCost);

    public static LimitsDto From(TokenLimits limits) =>
        new(limits.RequestsPerSecond, limits.Burst, limits.DailyRequests, limits.DailyTokens, limits.DailyCost);
}

public sealed record CreateTokenRequest
{
    public required string Name { get; init; }

    public string? UserId { get; init; }

    public IReadOnlyList<string>? Scopes { get; init; }

    public int? ExpiresInDays { get; init; }

    public LimitsDto? Limits { get; init; }
}

public sealed record ApiTokenResponse(
    string Id,
    string Name,
    string UserId,
    string Prefix,
    IReadOnlyList<string> Scopes,
    LimitsDto Limits,
    string State,
    DateTimeOffset CreatedAt,
    DateTimeOffset? LastUsedAt,
    DateTimeOffset ExpiresAt,
    DateTimeOffset? RevokedAt,
    string? ParentId)
{
    public static ApiTokenResponse From(ApiToken token, DateTimeOffset now) => new(
        token.Id, token.Name, token.UserId, token.Prefix, token.Scopes, LimitsDto.From(token.Limits),
        token.RevokedAt is not null ? "revoked" : token.ExpiresAt <= now ? "expired" : "active",
        token.CreatedAt, token.LastUsedAt, token.ExpiresAt, token.RevokedAt, token.ParentId);
}

/// <summary>The one response that carries the secret. <c>clamped</c> says the lifetime was cut to the maximum.</summary>
public sealed record CreatedTokenResponse(string Token, int ExpiresInDays, bool Clamped, int RevokedOthers, ApiTokenResponse Metadata);

public sealed record UsageReport
{
    public long Tokens { get; init; }

    public decimal Cost { get; init; }

    /// <summary>Optional: what the tokens were spent on (see <see cref="UsageDetail"/> for the charset and lengths).</summary>
    public string? Model { get; init; }

    public string? Provider { get; init; }

    /// <summary>Optional: input and output tokens; their sum is the <c>tokens</c> the quotas count.</summary>
    public long? InputTokens { get; init; }

    public long? OutputTokens { get; init; }
}

public sealed record VerifyTokenRequest
{
    public required string Token { get; init; }

    /// <summary>Optional idempotency key: a verify repeated with it for the same token counts once and answers the same.</summary>
    public string? RequestId { get; init; }

    public UsageReport? Usage { get; init; }
}

public sealed record RecordUsageRequest
{
    public long Requests { get; init; }

    public long Tokens { get; init; }

    public decimal Cost { get; init; }

    /// <summary>Optional idempotency key: a report repeated with it for the same token counts once and answers the same.</summary>
    public string? RequestId { get; init; }

    public string? Model { get; init; }

    public string? Provider { get; init; }

    public long? InputTokens { get; init; }

    public long? OutputTokens { get; init; }
}

public sealed record RateLimitInfo(int Limit, int Remaining, long Reset);

public sealed record QuotaCounter<T>(T? Limit, T Used, T? Remaining)
    where T : struct;

public sealed record QuotaInfo(
    string Day,
    QuotaCounter<long> DailyRequests,
    QuotaCounter<long> DailyTokens,
    QuotaCounter<decimal> DailyCost,
    string? Exhausted)
{
    public static QuotaInfo From(UsageDay day, Quota quota, QuotaKind exhausted) => new(
        day.Day.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
        Counter(day.Requests, quota.DailyRequests),
        Counter(day.Tokens, quota.DailyTokens),
        new QuotaCounter<decimal>(
            quota.DailyCostMicros > 0 ? Money.FromMicros(quota.DailyCostMicros) : null,
            Money.FromMicros(day.CostMicros),
            quota.DailyCostMicros > 0 ? Money.FromMicros(Math.Max(0, quota.DailyCostMicros - day.CostMicros)) : null),
        exhausted == QuotaKind.None ? null : exhausted.ToWire());

    private static QuotaCounter<long> Counter(long used, long cap) =>
        new(cap > 0 ? cap : null, used, cap > 0 ? Math.Max(0, cap - used) : null);
}

public sealed record VerifyTokenResponse(
    bool Valid,
    string? Code,
    string? TokenId,
    string? UserId,
    IReadOnlyList<string>? Scopes,
    DateTimeOffset? ExpiresAt,
    RateLimitInfo? Ratelimit,
    QuotaInfo? Quota);

public sealed record RecordedUsageResponse(string TokenId, bool OverQuota, QuotaInfo Quota);

public sealed record UsageDayResponse(string Day, long Requests, long Tokens, decimal Cost)
{
    public static UsageDayResponse From(UsageDay day) => new(
        day.Day.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), day.Requests, day.Tokens, Money.FromMicros(day.CostMicros));
}
