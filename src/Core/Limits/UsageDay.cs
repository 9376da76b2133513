namespace IronAuth.Core.Limits;

/// <summary>One token's usage on one UTC day. Cost is in micros (see <see cref="Money"/>).</summary>
public sealed record UsageDay(string TokenId, DateOnly Day, long Requests, long Tokens, long CostMicros)
{
    public static DateOnly DayOf(DateTimeOffset time) => DateOnly.FromDateTime(time.UtcDateTime);
}

/// <summary>Usage to add: a request, LLM tokens, cost in micros.</summary>
public sealed record UsageDelta(long Requests, long Tokens, long CostMicros);

/// <summary>Which daily quota stopped a request.</summary>
public enum QuotaKind
{
    None,
    DailyRequests,
    DailyTokens,
    DailyCost,
}

/// <summary>The outcome of adding usage.</summary>
/// <param name="Added">False when a cap refused the delta (nothing was added).</param>
/// <param name="Day">The day's totals after the attempt.</param>
/// <param name="Exhausted">The first quota that is used up (or that refused the delta).</param>
public sealed record UsageOutcome(bool Added, UsageDay Day, QuotaKind Exhausted);

/// <summary>Per-token, per-UTC-day usage counters.</summary>
public interface IUsageStore
{
    /// <summary>
    /// Adds <paramref name="delta"/> to the day's counters if the result stays within
    /// <paramref name="quota"/> and no quota is already used up — checked and added in one atomic step, so
    /// concurrent callers never overspend a quota. A new day starts from zero, whatever any job did.
    /// </summary>
    Task<UsageOutcome> TryAddAsync(string tokenId, DateOnly day, UsageDelta delta, Quota quota, CancellationToken cancellationToken);

    /// <summary>Adds <paramref name="delta"/> unconditionally (usage that already happened) and returns the totals.</summary>
    Task<UsageDay> AddAsync(string tokenId, DateOnly day, UsageDelta delta, CancellationToken cancellationToken);

    /// <summary>The stored days of a token from <paramref name="from"/> to <paramref name="to"/>, inclusive.</summary>
    Task<IReadOnlyList<UsageDay>> ListAsync(string tokenId, DateOnly from, DateOnly to, CancellationToken cancellationToken);
}

public static class QuotaRules
{
    /// <summary>
    /// Whether <paramref name="delta"/> fits on top of <paramref name="day"/>: each capped counter must not
    /// be used up already and must stay within its cap after the delta. Both stores apply exactly this rule.
    /// </summary>
    public static QuotaKind Refusal(UsageDay day, UsageDelta delta, Quota quota)
    {
        if (Over(day.Requests, delta.Requests, quota.DailyRequests))
        {
            return QuotaKind.DailyRequests;
        }

        if (Over(day.Tokens, delta.Tokens, quota.DailyTokens))
        {
            return QuotaKind.DailyTokens;
        }

        return Over(day.CostMicros, delta.CostMicros, quota.DailyCostMicros) ? QuotaKind.DailyCost : QuotaKind.None;
    }

    /// <summary>
    /// Adds <paramref name="delta"/> to <paramref name="current"/> if <see cref="Refusal"/> allows it: the day after the
    /// attempt and why it was refused or which quota it used up. Each store applies it where no other writer can come
    /// between its read and its write.
    /// </summary>
    public static UsageOutcome TryAdd(UsageDay current, UsageDelta delta, Quota quota)
    {
        var refusal = Refusal(current, delta, quota);
        if (refusal != QuotaKind.None)
        {
            return new UsageOutcome(false, current, refusal);
        }

        var after = current with
        {
            Requests = current.Requests + delta.Requests,
            Tokens = current.Tokens + delta.Tokens,
            CostMicros = current.CostMicros + delta.CostMicros,
        };
        return new UsageOutcome(true, after, Exhausted(after, quota));
    }

    /// <summary>The first quota that is used up after the fact (for reporting).</summary>
    public static QuotaKind Exhausted(UsageDay day, Quota quota) =>
        quota.DailyRequests > 0 && day.Requests >= quota.DailyRequests ? QuotaKind.DailyRequests
        : quota.DailyTokens > 0 && day.Tokens >= quota.DailyTokens ? QuotaKind.DailyTokens
        : quota.DailyCostMicros > 0 && day.CostMicros >= quota.DailyCostMicros ? QuotaKind.DailyCost
        : QuotaKind.None;

    public static string ToWire(this QuotaKind kind) => kind switch
    {
        QuotaKind.DailyRequests => "daily_requests",
        QuotaKind.DailyTokens => "daily_tokens",
        QuotaKind.DailyCost => "daily_cost",
        _ => "none",
    };

    private static bool Over(long used, long adding, long cap) => cap > 0 && (used >= cap || used + adding > cap);
}
