using System.Globalization;
using IronAuth.Core.Analytics;
using IronAuth.Core.Limits;

namespace IronAuth.Api.Contracts;

/// <summary>One group of <c>GET /api/usage</c>: a token, user, model or provider, with what it spent.</summary>
public sealed record SpendingItemResponse(string Key, string? Name, long Requests, long Tokens, long InputTokens, long OutputTokens, decimal Cost)
{
    public static SpendingItemResponse From(SpendingItem item) =>
        new(item.Key, item.Name, item.Requests, item.Tokens, item.InputTokens, item.OutputTokens, Money.FromMicros(item.CostMicros));
}

/// <summary>Totals over every group of the range (not only the page).</summary>
public sealed record SpendingTotalsResponse(long Requests, long Tokens, long InputTokens, long OutputTokens, decimal Cost);

/// <summary><c>GET /api/usage</c>: a page of groups, most spent first, and the totals of the range.</summary>
public sealed record SpendingReportResponse(
    string From, string To, string GroupBy, IReadOnlyList<SpendingItemResponse> Items, SpendingTotalsResponse Totals, string? NextCursor)
{
    public static SpendingReportResponse Of(SpendingReport report, string? nextCursor) => new(
        report.From.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        report.To.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        SpendingAnalytics.ToWire(report.GroupBy),
        [.. report.Items.Select(SpendingItemResponse.From)],
        new SpendingTotalsResponse(report.Totals.Requests, report.Totals.Tokens, report.Totals.InputTokens, report.Totals.OutputTokens, Money.FromMicros(report.Totals.CostMicros)),
        nextCursor);
}
