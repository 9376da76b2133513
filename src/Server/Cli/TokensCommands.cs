using System.CommandLine;
using IronAuth.Api.Contracts;
using IronAuth.Core;
using IronAuth.Core.Limits;
using IronAuth.Core.Tokens;
using IronAuth.Core.Users;

namespace IronAuth.Server.Cli;

/// <summary><c>ironauth tokens …</c>: issue, list, revoke API tokens and read their usage, as the local operator.</summary>
internal static class TokensCommands
{
    public static Command Create(CliContext cli) => new("tokens", "Issue, list and revoke API tokens, and read their usage.")
    {
        CreateCommand(cli),
        ListCommand(cli),
        RevokeCommand(cli),
        UsageCommand(cli),
    };

    private static Command CreateCommand(CliContext cli)
    {
        var user = new Option<string>("--user") { Description = "The owner's username or id.", Required = true };
        var name = new Option<string>("--name") { Description = "What the token is for.", Required = true };
        var days = new Option<int?>("--days") { Description = "Lifetime in days (default IronAuth:Tokens:DefaultLifetimeDays, at most MaxLifetimeDays)." };
        var scopes = new Option<string[]>("--scope")
        {
            Description = $"A scope to grant (repeat for several): {string.Join(", ", Permissions.All)}. Default: all of the owner's permissions.",
        };
        var rps = new Option<double>("--rps") { Description = "Requests per second refilling the token's bucket (default IronAuth:RateLimits:RequestsPerSecond)." };
        var burst = new Option<int>("--burst") { Description = "The bucket's capacity (default IronAuth:RateLimits:Burst)." };
        var dailyRequests = new Option<long>("--daily-requests") { Description = "Requests per UTC day (default: IronAuth:Quotas, 0 = no cap)." };
        var dailyTokens = new Option<long>("--daily-tokens") { Description = "LLM tokens per UTC day." };
        var dailyCost = new Option<decimal>("--daily-cost") { Description = "Cost per UTC day (up to 6 decimal places)." };
        var json = new Option<bool>("--json") { Description = "Write JSON (the HTTP API's created-token object) instead of the bare token." };
        var command = new Command("create", "Issue an API token. The token is printed once, alone on standard output.")
        {
            user, name, days, scopes, rps, burst, dailyRequests, dailyTokens, dailyCost, json,
        };
        command.SetAction((parse, cancellationToken) => cli.RunAsync(parse, cancellationToken, async session =>
        {
            var owner = await CliContext.FindUserAsync(session, parse.GetRequiredValue(user), cancellationToken);
            if (owner.Value is not { } ownerUser)
            {
                return cli.Fail(owner.Failure!);
            }

            var limits = new TokenLimits(
                parse.GetValue(rps), parse.GetValue(burst), parse.GetValue(dailyRequests), parse.GetValue(dailyTokens), parse.GetValue(dailyCost));
            var granted = parse.GetValue(scopes) is { Length: > 0 } listed ? listed : null;
            var request = new NewApiToken(ownerUser.Id, parse.GetRequiredValue(name), granted, parse.GetValue(days), limits);
            var created = await session.Tokens.CreateAsync(Actor.LocalOperator, request, TokenCreator.LocalOperator, cancellationToken);
            if (created.Value is not { } issued)
            {
                return cli.Fail(created.Failure!);
            }

            var metadata = ApiTokenResponse.From(issued.Token, session.Time.GetUtcNow());
            if (parse.GetValue(json))
            {
                cli.WriteJson(new CreatedTokenResponse(issued.Plaintext, issued.ExpiresInDays, issued.Clamped, issued.RevokedOthers, metadata));
                return IronAuthCli.Succeeded;
            }

            // The secret alone on standard output, so `TOKEN=$(ironauth tokens create ...)` works; the rest is for people.
            cli.Out.WriteLine(issued.Plaintext);
            cli.Error.WriteLine(
                $"Token {issued.Token.Id} '{issued.Token.Name}' for '{ownerUser.Username}', scopes {string.Join(' ', issued.Token.Scopes)}, "
                + $"expires {CliContext.Time(issued.Token.ExpiresAt)}. It is shown only this once.");
            if (issued.Clamped)
            {
                cli.Error.WriteLine($"The lifetime was cut to the maximum of {issued.ExpiresInDays} days.");
            }

            if (issued.RevokedOthers > 0)
            {
                cli.Error.WriteLine($"Revoked {issued.RevokedOthers} other token(s) of the owner (IronAuth:Tokens:OneActivePerUser).");
            }

            return IronAuthCli.Succeeded;
        }));
        return command;
    }

    private static Command ListCommand(CliContext cli)
    {
        var user = new Option<string>("--user") { Description = "Only this user's tokens (username or id)." };
        var json = new Option<bool>("--json") { Description = "Write JSON (the HTTP API's token metadata)." };
        var command = new Command("list", "List API tokens (metadata only, never the secret), oldest first.") { user, json };
        command.SetAction((parse, cancellationToken) => cli.RunAsync(parse, cancellationToken, async session =>
        {
            var filter = await CliContext.FindUserIdAsync(session, parse.GetValue(user), cancellationToken);
            if (filter.Failure is { } notFound)
            {
                return cli.Fail(notFound);
            }

            var ownerId = filter.Value;

            var tokens = new List<ApiToken>();
            string? position = null;
            do
            {
                var page = await session.Tokens.ListAsync(new ApiTokenQuery(ownerId, position, 200), cancellationToken);
                tokens.AddRange(page.Items);
                position = page.Next;
            }
            while (position is not null);

            var now = session.Time.GetUtcNow();
            var listed = tokens.Select(t => ApiTokenResponse.From(t, now)).ToList();
            if (parse.GetValue(json))
            {
                cli.WriteJson(listed);
                return IronAuthCli.Succeeded;
            }

            var usernames = new Dictionary<string, string>();
            foreach (var userId in listed.Select(t => t.UserId).Distinct())
            {
                usernames[userId] = (await session.Users.GetAsync(userId, cancellationToken)).Value?.Username ?? userId;
            }

            TextTable.Write(
                cli.Out,
                ["ID", "USER", "NAME", "PREFIX", "EXPIRES", "LAST USED", "STATE"],
                listed.Select(t => new[]
                {
                    t.Id, usernames[t.UserId], t.Name, t.Prefix, CliContext.Time(t.ExpiresAt), CliContext.Time(t.LastUsedAt), t.State,
                }));
            return IronAuthCli.Succeeded;
        }));
        return command;
    }

    private static Command RevokeCommand(CliContext cli)
    {
        var id = new Argument<string>("id") { Description = "The token's id (from 'tokens list')." };
        var command = new Command("revoke", "Revoke an API token; it stops working at once. Revoking a revoked token is not an error.") { id };
        command.SetAction((parse, cancellationToken) => cli.RunAsync(parse, cancellationToken, async session =>
        {
            var found = await session.Tokens.GetAsync(parse.GetRequiredValue(id), cancellationToken);
            if (found.Value is not { } token)
            {
                return cli.Fail(found.Failure!);
            }

            await session.Tokens.RevokeAsync(Actor.LocalOperator, token, cancellationToken);
            cli.Out.WriteLine(token.RevokedAt is null
                ? $"Revoked token {token.Id} '{token.Name}' ({token.Prefix}…)."
                : $"Token {token.Id} '{token.Name}' was already revoked.");
            return IronAuthCli.Succeeded;
        }));
        return command;
    }

    private static Command UsageCommand(CliContext cli)
    {
        var id = new Argument<string>("id") { Description = "The token's id." };
        var days = CliContext.InRange(
            new Option<int>("--days") { Description = "How many UTC days, today included.", DefaultValueFactory = _ => 7 }, 1, TokenManager.MaxHistoryDays);
        var json = new Option<bool>("--json") { Description = "Write JSON (the HTTP API's usage days)." };
        var command = new Command("usage", "A token's daily usage, newest day first.") { id, days, json };
        command.SetAction((parse, cancellationToken) => cli.RunAsync(parse, cancellationToken, async session =>
        {
            var found = await session.Tokens.GetAsync(parse.GetRequiredValue(id), cancellationToken);
            if (found.Value is not { } token)
            {
                return cli.Fail(found.Failure!);
            }

            var history = (await session.Tokens.HistoryAsync(token, parse.GetValue(days), cancellationToken))
                .Select(UsageDayResponse.From)
                .ToList();
            if (parse.GetValue(json))
            {
                cli.WriteJson(history);
                return IronAuthCli.Succeeded;
            }

            TextTable.Write(
                cli.Out,
                ["DAY", "REQUESTS", "TOKENS", "COST"],
                history.Select(d => new[] { d.Day, CliContext.Number(d.Requests), CliContext.Number(d.Tokens), CliContext.Number(d.Cost) }));
            return IronAuthCli.Succeeded;
        }));
        return command;
    }
}
