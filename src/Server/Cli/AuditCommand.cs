using System.CommandLine;
using IronAuth.Api.Contracts;
using IronAuth.Core.Audit;

namespace IronAuth.Server.Cli;

/// <summary><c>ironauth audit</c>: the most recent audit entries.</summary>
internal static class AuditCommand
{
    private const int PageSize = 200;

    public static Command Create(CliContext cli)
    {
        var user = new Option<string>("--user") { Description = "Only entries the user made or that concern it (username or id)." };
        var limit = CliContext.InRange(
            new Option<int>("--limit") { Description = "How many entries at most.", DefaultValueFactory = _ => 50 }, 1, 10_000);
        var json = new Option<bool>("--json") { Description = "Write JSON (the HTTP API's audit entries)." };
        var command = new Command("audit", "Show recent audit entries, newest first.") { user, limit, json };
        command.SetAction((parse, cancellationToken) => cli.RunAsync(parse, cancellationToken, async session =>
        {
            var filter = await CliContext.FindUserIdAsync(session, parse.GetValue(user), cancellationToken);
            if (filter.Failure is { } notFound)
            {
                return cli.Fail(notFound);
            }

            var userId = filter.Value;

            var wantedCount = parse.GetValue(limit);
            var entries = new List<AuditEntry>();
            string? position = null;
            do
            {
                var page = await session.Audit.ListAsync(userId, position, Math.Min(PageSize, wantedCount - entries.Count), cancellationToken);
                entries.AddRange(page.Items);
                position = page.Next;
            }
            while (position is not null && entries.Count < wantedCount);

            if (parse.GetValue(json))
            {
                cli.WriteJson(entries.Select(AuditEntryResponse.From));
                return IronAuthCli.Succeeded;
            }

            TextTable.Write(
                cli.Out,
                ["AT", "ACTOR", "ACTION", "TARGET", "CLIENT IP", "DETAILS"],
                entries.Select(e => new[]
                {
                    CliContext.Time(e.At),
                    e.ActorName,
                    e.Action,
                    e.TargetId is null ? "-" : $"{e.TargetType}:{e.TargetId}",
                    e.ClientIp ?? "-",
                    string.Join(' ', e.Details.Select(d => $"{d.Key}={d.Value}")),
                }));
            return IronAuthCli.Succeeded;
        }));
        return command;
    }
}
