namespace IronAuth.Core.Limits;

/// <summary>One token's usage on one UTC day. Cost is in micros (see <see cref="Money"/>).</summary>
public sealed record UsageDay(string TokenId, DateOnly Day, long Requests, long Tokens, long CostMicros)
{
    public static DateOnly DayOf(DateTimeOffset time) => DateOnly.FromDateTime(time.UtcDateTime);
}

/// <summary>Usage to add: a request, LLM tokens, cost in micros.</summary>
public sealed record UsageDelta(long Requests, long Tokens, long CostMicros)
{
    /// <summary>
    /// The report's idempotency key and model breakdown, or null (the common case: the stores then do exactly what
    /// they did before detail existed, no statement or round trip more).
    /// </summary>
    public UsageDetail? Detail { get; init; }
}

/// <summary>
/// The most usage one report may carry (with a verify, or after the fact), checked where reports come in: a
/// report beyond them is a validation failure, never a counter that wraps. Far above any real request (a
/// million-token context costs well under a dollar) and far below what a day's counter holds: it takes over
/// nine million maximal reports to fill one, and a full counter refuses or saturates (<see cref="QuotaRules"/>).
/// </summary>
public static class UsageBounds
{
    public const long MaxRequests = 1_000_000_000;

    public const long MaxTokens = 1_000_000_000_000;

    public const decimal MaxCost = 1_000_000_000m;

    /// <summary>A validation failure naming the first value out of bounds (with <paramref name="prefix"/>), or null.</summary>
    public static Failure? Check(long requests, long tokens, decimal cost, string prefix = "")
    {
        if (requests is < 0 or > MaxRequests)
        {
            return Failure.Validation($"{prefix}requests must be from 0 to {MaxRequests}.");
        }

        if (tokens is < 0 or > MaxTokens)
        {
            return Failure.Validation($"{prefix}tokens must be from 0 to {MaxTokens}.");
        }

        return cost is < 0 or > MaxCost || !Money.IsRepresentable(cost)
            ? Failure.Validation($"{prefix}cost must be from 0 to {MaxCost:0}, with at most {Money.Decimals} decimal places.")
            : null;
    }
}

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

    /// <summary>
    /// The stored per-(provider, model) rows of a token from <paramref name="from"/> to <paramref name="to"/>: the part of
    /// each day's usage that was reported with detail (<see cref="UsageDetail.HasBreakdown"/>), newest day first.
    /// </summary>
    Task<IReadOnlyList<UsageBreakdownDay>> ListBreakdownAsync(string tokenId, DateOnly from, DateOnly to, CancellationToken cancellationToken);
}

public static class QuotaRules
{
    /// <summary>
    /// Whether <paramref name="delta"/> fits on top of <paramref name="day"/>: each capped counter must not
    /// be used up already and must stay within its cap after the delta. Both stores apply exactly this rule.
    /// </summary>
    /// <remarks>
    /// A counter that cannot hold the delta refuses as if capped at <see cref="long.MaxValue"/>, whether or not it has
    /// a cap: counts never wrap (a wrapped counter once went negative and let everything through).
    /// </remarks>
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
    /// Adds usage that already happened (no cap applies): each counter saturates at <see cref="long.MaxValue"/> instead
    /// of wrapping. Negative deltas count as nothing.
    /// </summary>
    public static UsageDay AddSaturating(UsageDay day, UsageDelta delta) => day with
    {
        Requests = Saturating(day.Requests, delta.Requests),
        Tokens = Saturating(day.Tokens, delta.Tokens),
        CostMicros = Saturating(day.CostMicros, delta.CostMicros),
    };

    /// <summary>
    /// <paramref name="a"/> + <paramref name="b"/> for counts, pinned at <see cref="long.MaxValue"/>. A negative stored
    /// count (<paramref name="a"/>) can only be one that wrapped before counters were checked: it stays full. A negative
    /// delta adds nothing.
    /// </summary>
    public static long Saturating(long a, long b)
    {
        if (a < 0)
        {
            return long.MaxValue;
        }

        b = Math.Max(0, b);
        return a > long.MaxValue - b ? long.MaxValue : a + b;
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

        // Checked although Refusal has ruled out overflow: if that ever changed, this throws instead of wrapping.
        var after = current with
        {
            Requests = checked(current.Requests + delta.Requests),
            Tokens = checked(current.Tokens + delta.Tokens),
            CostMicros = checked(current.CostMicros + delta.CostMicros),
        };
        return new UsageOutcome(true, after, Exhausted(after, quota));
    }

    /// <summary>The first quota that is used up after the fact (for reporting).</summary>
    public static QuotaKind Exhausted(UsageDay day, Quota quota) =>
        UsedUp(day.Requests, quota.DailyRequests) ? QuotaKind.DailyRequests
        : UsedUp(day.Tokens, quota.DailyTokens) ? QuotaKind.DailyTokens
        : UsedUp(day.CostMicros, quota.DailyCostMicros) ? QuotaKind.DailyCost
        : QuotaKind.None;

    public static string ToWire(this QuotaKind kind) => kind switch
    {
        QuotaKind.DailyRequests => "daily_requests",
        QuotaKind.DailyTokens => "daily_tokens",
        QuotaKind.DailyCost => "daily_cost",
        _ => "none",
    };

    private static bool UsedUp(long used, long cap) => cap > 0 && (used >= cap || used < 0);

    // Never computes used + adding: with both from 0 to long.MaxValue the comparisons below cannot overflow. A negative
    // delta is refused outright (validated at the edge; here it would take back counted usage), and a negative count
    // (one that wrapped before counters were checked) is full.
    private static bool Over(long used, long adding, long cap) =>
        adding < 0
        || used < 0
        || adding > long.MaxValue - used
        || (cap > 0 && (used >= cap || adding > cap - used));
}
