using IronAuth.Core.Configuration;

namespace IronAuth.Core.Limits;

/// <summary>
/// Per-token limits as requested; each 0 means "use the default" for the bucket and "no cap" for quotas
/// unless the configured default sets one.
/// </summary>
/// <remarks>
/// Every value is 0 or within the bounds below, checked where limits come in (the API, the command line, the
/// configured defaults). The bounds keep every time the bucket computes (Retry-After, RateLimit-Reset, when a
/// bucket is full again) within about 32 years and every cap within what a 64-bit counter holds many times
/// over, so no arithmetic on them can overflow or lose its meaning.
/// </remarks>
public sealed record TokenLimits(double RequestsPerSecond = 0, int Burst = 0, long DailyRequests = 0, long DailyTokens = 0, decimal DailyCost = 0)
{
    /// <summary>The slowest refill: one request in 1,000 seconds.</summary>
    public const double MinRequestsPerSecond = 0.001;

    public const double MaxRequestsPerSecond = 1_000_000;

    public const int MaxBurst = 1_000_000;

    public const long MaxDailyRequests = 1_000_000_000_000;

    public const long MaxDailyTokens = 1_000_000_000_000_000;

    public const decimal MaxDailyCost = 1_000_000_000m;

    public static TokenLimits None { get; } = new();

    /// <summary>A validation failure naming the first value out of bounds, or null when every value is usable.</summary>
    public Failure? Validate(string prefix = "limits.") =>
        Problem(prefix) is { } problem ? Failure.Validation(problem) : null;

    /// <summary>Why a value is out of bounds (naming it with <paramref name="prefix"/>), or null.</summary>
    public string? Problem(string prefix)
    {
        // Written as "not inside" so NaN fails every check.
        if (!(RequestsPerSecond == 0 || RequestsPerSecond is >= MinRequestsPerSecond and <= MaxRequestsPerSecond))
        {
            return $"{prefix}requests_per_second must be 0 (the default) or from {MinRequestsPerSecond} to {MaxRequestsPerSecond:0}.";
        }

        if (Burst is < 0 or > MaxBurst)
        {
            return $"{prefix}burst must be 0 (the default) or from 1 to {MaxBurst}.";
        }

        if (DailyRequests is < 0 or > MaxDailyRequests)
        {
            return $"{prefix}daily_requests must be 0 or from 1 to {MaxDailyRequests}.";
        }

        if (DailyTokens is < 0 or > MaxDailyTokens)
        {
            return $"{prefix}daily_tokens must be 0 or from 1 to {MaxDailyTokens}.";
        }

        if (DailyCost is < 0 or > MaxDailyCost || !Money.IsRepresentable(DailyCost))
        {
            return $"{prefix}daily_cost must be 0 or positive up to {MaxDailyCost:0}, with at most {Money.Decimals} decimal places.";
        }

        return null;
    }

    /// <summary>
    /// The limits in force: this token's where set, the configured defaults elsewhere. A stored value outside the
    /// bounds (a token created before they were checked) is brought inside them, so it can never reach the
    /// bucket's arithmetic.
    /// </summary>
    public EffectiveLimits Resolve(IronAuthOptions options) => new(
        RequestsPerSecond > 0 && double.IsFinite(RequestsPerSecond)
            ? Math.Clamp(RequestsPerSecond, MinRequestsPerSecond, MaxRequestsPerSecond)
            : options.RateLimits.RequestsPerSecond,
        Burst > 0 ? Math.Min(Burst, MaxBurst) : options.RateLimits.Burst,
        new Quota(
            DailyRequests > 0 ? Math.Min(DailyRequests, MaxDailyRequests) : options.Quotas.DailyRequests,
            DailyTokens > 0 ? Math.Min(DailyTokens, MaxDailyTokens) : options.Quotas.DailyTokens,
            Money.ToMicros(DailyCost > 0 ? Math.Min(DailyCost, MaxDailyCost) : options.Quotas.DailyCost)));
}

/// <summary>The bucket and the daily caps that apply to one token.</summary>
public sealed record EffectiveLimits(double RequestsPerSecond, int Burst, Quota Quota)
{
    /// <summary>
    /// The limits as a token's own (every field set), so a token made by another token can be given exactly what
    /// its parent has where it asks for nothing.
    /// </summary>
    public TokenLimits ToTokenLimits() => new(RequestsPerSecond, Burst, Quota.DailyRequests, Quota.DailyTokens, Money.FromMicros(Quota.DailyCostMicros));
}

/// <summary>Daily caps; 0 means no cap. Cost is in micros (see <see cref="Money"/>).</summary>
public sealed record Quota(long DailyRequests, long DailyTokens, long DailyCostMicros);
