using System.CommandLine;
using IronAuth.Api.Contracts;
using IronAuth.Api.Endpoints;
using IronAuth.Core.Analytics;

namespace IronAuth.Server.Cli;

/// <summary><c>ironauth usage</c>: spending across tokens, as <c>GET /api/usage</c> reports it (every user's, as the local operator).</summary>
internal static class UsageCommand
{
    public static Command Create(CliContext cli)
    {
        var groupBy = new Option<string>("--group-by") { Description = "What to sum by: token, user, model or provider; agent or budget for budget spend.", DefaultValueFactory = _ => "token" };
        groupBy.AcceptOnlyFromAmong(UsageEndpoints.Groups);
        var period = new Option<string?>("--period") { Description = $"A range relative to today (UTC): {string.Join(", ", SpendingAnalytics.Periods)}; instead of --from/--to." };
        var from = new Option<string?>("--from") { Description = "First UTC day, yyyy-MM-dd (default today)." };
        var to = new Option<string?>("--to") { Description = "Last UTC day, yyyy-MM-dd, inclusive (default today)." };
        var user = new Option<string>("--user") { Description = "Only this user's tokens, or budgets (username or id)." };
        var limit = CliContext.InRange(new Option<int>("--limit") { Description = "How many groups at most.", DefaultValueFactory = _ => 50 }, 1, 10_000);
        var json = new Option<bool>("--json") { Description = "Write JSON (the HTTP API's usage report)." };
        var command = new Command("usage", "Usage across tokens for a range of UTC days, summed by token, user, model or provider (or budget spend by agent or budget), most spent first.")
        {
            groupBy, period, from, to, user, limit, json,
        };
        command.SetAction((parse, cancellationToken) => cli.RunAsync(parse, cancellationToken, async session =>
        {
            var analytics = session.Get<SpendingAnalytics>();
            var range = analytics.Range(parse.GetValue(period), parse.GetValue(from), parse.GetValue(to));
            if (range.Failure is { } badRange)
            {
                return cli.Fail(badRange);
            }

            var filter = await CliContext.FindUserIdAsync(session, parse.GetValue(user), cancellationToken);
            if (filter.Failure is { } notFound)
            {
                return cli.Fail(notFound);
            }

            var userId = filter.Value;

            SpendingAnalytics.TryParseGroup(parse.GetValue(groupBy)!, out var group);
            var (start, end) = range.Value;
            var report = await analytics.ReportAsync(new SpendingQuery(start, end, group, userId, 0, parse.GetValue(limit)), cancellationToken);
            var response = SpendingReportResponse.Of(report, null);
            if (parse.GetValue(json))
            {
                cli.WriteJson(response);
                return IronAuthCli.Succeeded;
            }

            TextTable.Write(
                cli.Out,
                [response.GroupBy.ToUpperInvariant(), "NAME", "REQUESTS", "TOKENS", "INPUT", "OUTPUT", "COST"],
                response.Items
                    .Select(i => new[]
                    {
                        i.Key.Length == 0 ? "-" : i.Key, i.Name ?? "-", CliContext.Number(i.Requests), CliContext.Number(i.Tokens),
                        CliContext.Number(i.InputTokens), CliContext.Number(i.OutputTokens), CliContext.Number(i.Cost),
                    })
                    .Append(
                    [
                        "TOTAL", "-", CliContext.Number(response.Totals.Requests), CliContext.Number(response.Totals.Tokens),
                        CliContext.Number(response.Totals.InputTokens), CliContext.Number(response.Totals.OutputTokens), CliContext.Number(response.Totals.Cost),
                    ]));
            return IronAuthCli.Succeeded;
        }));
        return command;
    }
}
