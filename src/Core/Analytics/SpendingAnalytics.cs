using System.Globalization;
using IronAuth.Core.Budgets;
using IronAuth.Core.Limits;
using IronAuth.Core.Tokens;
using IronAuth.Core.Users;

namespace IronAuth.Core.Analytics;

/// <summary>What usage is summed by.</summary>
public enum SpendingGroup
{
    Token,
    User,
    Model,
    Provider,

    /// <summary>Budget spend (reports against leases) by agent; not token usage.</summary>
    Agent,

    /// <summary>Budget spend by budget; not token usage.</summary>
    Budget,
}

/// <summary>One token's stored usage in a range of days: its daily totals and the per-model part of them.</summary>
/// <param name="OwnerId">The token's owner, or null when the token is gone (SQLite keeps usage of purged tokens).</param>
public sealed record TokenActivity(string TokenId, string? OwnerId, IReadOnlyList<UsageDay> Days, IReadOnlyList<UsageBreakdownDay> Breakdown);

/// <summary>
/// Usage across tokens for a range of UTC days. A store answers from what it keeps by day (SQLite: the day index of
/// <c>usage_days</c>; Tables: the per-day activity index), so a one-day query reads that day's tokens, never every
/// token's history.
/// </summary>
public interface IUsageAnalyticsStore
{
    /// <summary>Every token with usage from <paramref name="from"/> to <paramref name="to"/> (of <paramref name="ownerId"/> only, when given).</summary>
    Task<IReadOnlyList<TokenActivity>> ListActivityAsync(DateOnly from, DateOnly to, string? ownerId, CancellationToken cancellationToken);
}

/// <summary>A question: which days, summed by what, whose (null: everyone's), which page.</summary>
public sealed record SpendingQuery(DateOnly From, DateOnly To, SpendingGroup GroupBy, string? OwnerId, int Offset, int Limit);

/// <summary>One group's sums. <paramref name="Name"/> is for people: a token's or user's name, a model as sent.</summary>
public sealed record SpendingItem(string Key, string? Name, long Requests, long Tokens, long InputTokens, long OutputTokens, long CostMicros);

/// <summary>A page of groups, most spent first (cost, then requests, then key), and the totals over all groups.</summary>
public sealed record SpendingReport(DateOnly From, DateOnly To, SpendingGroup GroupBy, IReadOnlyList<SpendingItem> Items, SpendingItem Totals, int? NextOffset);

/// <summary>
/// Spending analytics (<c>GET /api/usage</c>, <c>ironauth usage</c>): usage summed by token, user, model or provider.
/// Every grouping sums to the same totals as the tokens' own daily histories: usage reported without a model or
/// provider is the group <c>""</c> ("unspecified") when grouping by model or provider. Grouping by agent or budget sums
/// budget spend instead (<see cref="IBudgetStore.ListSpendAsync"/>): every report counted against a budget in the range,
/// so the groups sum to the budgets' own spent and per-agent figures; reports carry no input/output split.
/// </summary>
public sealed class SpendingAnalytics(IUsageAnalyticsStore store, IBudgetStore budgets, IApiTokenStore tokens, IUserStore users, TimeProvider time)
{
    /// <summary>The longest range one query may span, as for a token's own history.</summary>
    public const int MaxDays = TokenManager.MaxHistoryDays;

    public static readonly IReadOnlyList<string> Periods = ["today", "yesterday", "last-7-days", "last-30-days"];

    public static bool TryParseGroup(string value, out SpendingGroup group)
    {
        (var known, group) = value switch
        {
            "token" => (true, SpendingGroup.Token),
            "user" => (true, SpendingGroup.User),
            "model" => (true, SpendingGroup.Model),
            "provider" => (true, SpendingGroup.Provider),
            "agent" => (true, SpendingGroup.Agent),
            "budget" => (true, SpendingGroup.Budget),
            _ => (false, SpendingGroup.Token),
        };
        return known;
    }

    public static string ToWire(SpendingGroup group) => group.ToString().ToLowerInvariant();

    /// <summary>
    /// The days asked for: a <paramref name="period"/>, or <paramref name="from"/> and <paramref name="to"/>
    /// (<c>yyyy-MM-dd</c>, inclusive; a missing one is today), or today when nothing is given.
    /// </summary>
    public Result<(DateOnly From, DateOnly To)> Range(string? period, string? from, string? to)
    {
        var today = UsageDay.DayOf(time.GetUtcNow());
        if (period is not null)
        {
            if (from is not null || to is not null)
            {
                return Failure.Validation("Give either period or from/to, not both.");
            }

            return period switch
            {
                "today" => (today, today),
                "yesterday" => (today.AddDays(-1), today.AddDays(-1)),
                "last-7-days" => (today.AddDays(-6), today),
                "last-30-days" => (today.AddDays(-29), today),
                _ => Failure.Validation($"period must be one of {string.Join(", ", Periods)}."),
            };
        }

        if (!TryDay(from, today, out var start) || !TryDay(to, today, out var end))
        {
            return Failure.Validation("from and to must be dates as yyyy-MM-dd.");
        }

        if (start > end || end.DayNumber - start.DayNumber >= MaxDays)
        {
            return Failure.Validation($"from must not be after to, and the range may span at most {MaxDays} days.");
        }

        return (start, end);
    }

    public async Task<SpendingReport> ReportAsync(SpendingQuery query, CancellationToken cancellationToken)
    {
        if (query.GroupBy is SpendingGroup.Agent or SpendingGroup.Budget)
        {
            return await BudgetReportAsync(query, cancellationToken);
        }

        var activity = await store.ListActivityAsync(query.From, query.To, query.OwnerId, cancellationToken);
        var groups = new Dictionary<string, Sums>(StringComparer.Ordinal);
        var totals = new Sums();
        foreach (var token in activity)
        {
            foreach (var day in token.Days.Where(d => d.Day >= query.From && d.Day <= query.To))
            {
                totals.Add(day.Requests, day.Tokens, 0, 0, day.CostMicros);
                var detailed = token.Breakdown.Where(b => b.Day == day.Day).ToList();
                switch (query.GroupBy)
                {
                    case SpendingGroup.Token or SpendingGroup.User:
                        var key = query.GroupBy == SpendingGroup.Token ? token.TokenId : token.OwnerId ?? "";
                        Group(groups, key).Add(day.Requests, day.Tokens, detailed.Sum(b => b.InputTokens), detailed.Sum(b => b.OutputTokens), day.CostMicros);
                        break;
                    default:
                        foreach (var row in detailed)
                        {
                            Group(groups, query.GroupBy == SpendingGroup.Model ? row.Model : row.Provider)
                                .Add(row.Requests, row.Tokens, row.InputTokens, row.OutputTokens, row.CostMicros);
                        }

                        // The part of the day reported without detail: every grouping sums to the day.
                        Group(groups, "").Add(
                            day.Requests - detailed.Sum(b => b.Requests), day.Tokens - detailed.Sum(b => b.Tokens), 0, 0, day.CostMicros - detailed.Sum(b => b.CostMicros));
                        break;
                }
            }

            foreach (var row in token.Breakdown.Where(b => b.Day >= query.From && b.Day <= query.To))
            {
                totals.Add(0, 0, row.InputTokens, row.OutputTokens, 0);
            }
        }

        var ordered = Order(groups.Where(g => !(g.Key == "" && g.Value.IsZero && query.GroupBy is SpendingGroup.Model or SpendingGroup.Provider)));
        var page = ordered.Skip(query.Offset).Take(query.Limit).ToList();
        var items = new List<SpendingItem>(page.Count);
        foreach (var (key, sums) in page)
        {
            items.Add(sums.ToItem(key, await NameAsync(query.GroupBy, key, cancellationToken)));
        }

        var next = query.Offset + page.Count < ordered.Count ? query.Offset + page.Count : (int?)null;
        return new SpendingReport(query.From, query.To, query.GroupBy, items, totals.ToItem("", null), next);
    }

    private async Task<SpendingReport> BudgetReportAsync(SpendingQuery query, CancellationToken cancellationToken)
    {
        var spend = await budgets.ListSpendAsync(query.From, query.To, query.OwnerId, cancellationToken);
        var groups = new Dictionary<string, Sums>(StringComparer.Ordinal);
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        var totals = new Sums();
        foreach (var row in spend)
        {
            var key = query.GroupBy == SpendingGroup.Budget ? row.BudgetId : row.AgentId;
            names[key] = query.GroupBy == SpendingGroup.Budget ? row.BudgetName : row.AgentId;
            Group(groups, key).Add(row.Requests, row.Tokens, 0, 0, row.CostMicros);
            totals.Add(row.Requests, row.Tokens, 0, 0, row.CostMicros);
        }

        var ordered = Order(groups);
        var page = ordered.Skip(query.Offset).Take(query.Limit).Select(g => g.Value.ToItem(g.Key, names[g.Key])).ToList();
        var next = query.Offset + page.Count < ordered.Count ? query.Offset + page.Count : (int?)null;
        return new SpendingReport(query.From, query.To, query.GroupBy, page, totals.ToItem("", null), next);
    }

    private static List<KeyValuePair<string, Sums>> Order(IEnumerable<KeyValuePair<string, Sums>> groups) =>
        [.. groups.OrderByDescending(g => g.Value.CostMicros).ThenByDescending(g => g.Value.Requests).ThenBy(g => g.Key, StringComparer.Ordinal)];

    private async Task<string?> NameAsync(SpendingGroup group, string key, CancellationToken cancellationToken) => group switch
    {
        // Names are looked up for the page only (at most 200), never for every group.
        SpendingGroup.Token => Ids.IsWellFormed(key) ? (await tokens.FindByIdAsync(key, cancellationToken))?.Name : null,
        SpendingGroup.User => key.Length > 0 ? (await users.FindByIdAsync(key, cancellationToken))?.Username : null,
        _ => key switch
        {
            "" => "unspecified",
            UsageDetail.Other => "other",
            _ => key,
        },
    };

    private static Sums Group(Dictionary<string, Sums> groups, string key)
    {
        if (!groups.TryGetValue(key, out var sums))
        {
            groups[key] = sums = new Sums();
        }

        return sums;
    }

    private static bool TryDay(string? value, DateOnly today, out DateOnly day)
    {
        day = today;
        return value is null || DateOnly.TryParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out day);
    }

    /// <summary>Running sums; each saturates at long.MaxValue as the stored counters do.</summary>
    private sealed class Sums
    {
        public long Requests { get; private set; }

        public long Tokens { get; private set; }

        public long InputTokens { get; private set; }

        public long OutputTokens { get; private set; }

        public long CostMicros { get; private set; }

        public bool IsZero => Requests == 0 && Tokens == 0 && InputTokens == 0 && OutputTokens == 0 && CostMicros == 0;

        public void Add(long requests, long tokens, long input, long output, long cost)
        {
            Requests = QuotaRules.Saturating(Requests, requests);
            Tokens = QuotaRules.Saturating(Tokens, tokens);
            InputTokens = QuotaRules.Saturating(InputTokens, input);
            OutputTokens = QuotaRules.Saturating(OutputTokens, output);
            CostMicros = QuotaRules.Saturating(CostMicros, cost);
        }

        public SpendingItem ToItem(string key, string? name) => new(key, name, Requests, Tokens, InputTokens, OutputTokens, CostMicros);
    }
}
