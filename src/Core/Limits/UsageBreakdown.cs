using System.Globalization;
using System.Text;

namespace IronAuth.Core.Limits;

/// <summary>One token's usage of one (provider, model) pair on one UTC day. "" is an unnamed provider or model.</summary>
public sealed record UsageBreakdownDay(
    string TokenId, DateOnly Day, string Provider, string Model, long Requests, long InputTokens, long OutputTokens, long Tokens, long CostMicros);

/// <summary>
/// A token's breakdown of one day as the rules both stores apply: which pair a use counts under (at most
/// <see cref="UsageDetail.MaxPairsPerDay"/> named pairs, then <see cref="UsageDetail.Other"/>), and counters that
/// saturate rather than wrap. The Table store keeps it as one text property (<see cref="Format"/>), SQLite as rows.
/// </summary>
public sealed class UsageBreakdown
{
    private readonly List<Entry> entries = [];

    public IReadOnlyList<Entry> Entries => entries;

    /// <summary>The pair a use of <paramref name="detail"/> counts under, given the pairs the day has.</summary>
    public static (string Provider, string Model) PairFor(UsageDetail detail, int pairsSoFar, bool pairExists) =>
        pairExists || pairsSoFar < UsageDetail.MaxPairsPerDay
            ? (detail.Provider ?? "", detail.Model ?? "")
            : (UsageDetail.Other, UsageDetail.Other);

    /// <summary>Adds one use (nothing unless it <see cref="UsageDetail.HasBreakdown"/>).</summary>
    public void Add(UsageDetail detail, UsageDelta delta)
    {
        if (!detail.HasBreakdown)
        {
            return;
        }

        var named = entries.FindIndex(e => e.Provider == (detail.Provider ?? "") && e.Model == (detail.Model ?? ""));
        var pairs = entries.Count(e => e.Provider != UsageDetail.Other);
        var (provider, model) = PairFor(detail, pairs, named >= 0);
        var index = entries.FindIndex(e => e.Provider == provider && e.Model == model);
        var current = index >= 0 ? entries[index] : new Entry(provider, model, 0, 0, 0, 0, 0);
        var after = current.Plus(delta, detail);
        if (index >= 0)
        {
            entries[index] = after;
        }
        else
        {
            entries.Add(after);
        }
    }

    /// <summary>Adds every entry of <paramref name="other"/> (the same pair adds up; used to merge a day's rows).</summary>
    public void Merge(UsageBreakdown other)
    {
        foreach (var e in other.entries)
        {
            var index = entries.FindIndex(x => x.Provider == e.Provider && x.Model == e.Model);
            entries.Add(e);
            if (index >= 0)
            {
                var current = entries[index];
                entries.RemoveAt(entries.Count - 1);
                entries[index] = current with
                {
                    Requests = QuotaRules.Saturating(current.Requests, e.Requests),
                    InputTokens = QuotaRules.Saturating(current.InputTokens, e.InputTokens),
                    OutputTokens = QuotaRules.Saturating(current.OutputTokens, e.OutputTokens),
                    Tokens = QuotaRules.Saturating(current.Tokens, e.Tokens),
                    CostMicros = QuotaRules.Saturating(current.CostMicros, e.CostMicros),
                };
            }
        }
    }

    /// <summary>One line per pair, tab-separated (neither name may hold a tab or a line break); null when empty.</summary>
    public string? Format()
    {
        if (entries.Count == 0)
        {
            return null;
        }

        var text = new StringBuilder();
        foreach (var e in entries)
        {
            text.Append(CultureInfo.InvariantCulture, $"{e.Provider}\t{e.Model}\t{e.Requests}\t{e.InputTokens}\t{e.OutputTokens}\t{e.Tokens}\t{e.CostMicros}\n");
        }

        return text.ToString();
    }

    public static UsageBreakdown Parse(string? text)
    {
        var breakdown = new UsageBreakdown();
        foreach (var line in (text ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split('\t');
            if (f.Length == 7)
            {
                var invariant = CultureInfo.InvariantCulture;
                breakdown.entries.Add(new Entry(
                    f[0], f[1], long.Parse(f[2], invariant), long.Parse(f[3], invariant), long.Parse(f[4], invariant), long.Parse(f[5], invariant), long.Parse(f[6], invariant)));
            }
        }

        return breakdown;
    }

    public IEnumerable<UsageBreakdownDay> Days(string tokenId, DateOnly day) =>
        entries.Select(e => new UsageBreakdownDay(tokenId, day, e.Provider, e.Model, e.Requests, e.InputTokens, e.OutputTokens, e.Tokens, e.CostMicros));

    public sealed record Entry(string Provider, string Model, long Requests, long InputTokens, long OutputTokens, long Tokens, long CostMicros)
    {
        public Entry Plus(UsageDelta delta, UsageDetail detail) => this with
        {
            Requests = QuotaRules.Saturating(Requests, delta.Requests),
            InputTokens = QuotaRules.Saturating(InputTokens, detail.InputTokens),
            OutputTokens = QuotaRules.Saturating(OutputTokens, detail.OutputTokens),
            Tokens = QuotaRules.Saturating(Tokens, delta.Tokens),
            CostMicros = QuotaRules.Saturating(CostMicros, delta.CostMicros),
        };
    }
}
