using System.CommandLine;
using IronAuth.Api.Contracts;
using IronAuth.Core;
using IronAuth.Core.Budgets;

namespace IronAuth.Server.Cli;

/// <summary><c>ironauth budgets …</c>: create, list, show and revoke agent budgets, attach a provider credential, mint IC tokens.</summary>
internal static class BudgetsCommands
{
    public static Command Create(CliContext cli) => new("budgets", "Agent budgets: create, list, show, revoke, attach a provider credential, mint IC tokens.")
    {
        CreateCommand(cli),
        ListCommand(cli),
        ShowCommand(cli),
        RevokeCommand(cli),
        SetCredentialCommand(cli),
        MintCommand(cli),
    };

    private static Command CreateCommand(CliContext cli)
    {
        var user = new Option<string>("--user") { Description = "The owner's username or id.", Required = true };
        var name = new Option<string>("--name") { Description = "What the budget is for.", Required = true };
        var allocation = new Option<decimal>("--allocation") { Description = "The amount agents may spend (up to 6 decimal places).", Required = true };
        var llmTokens = new Option<long?>("--llm-tokens") { Description = "A cap on the LLM tokens reported against it." };
        var hours = new Option<int?>("--hours") { Description = "Lifetime in hours (default IronAuth:Budgets:DefaultLifetime)." };
        var json = new Option<bool>("--json") { Description = "Write JSON (the HTTP API's budget object)." };
        var command = new Command("create", "Create a budget and print its id.") { user, name, allocation, llmTokens, hours, json };
        command.SetAction((parse, cancellationToken) => cli.RunAsync(parse, cancellationToken, async session =>
        {
            var owner = await CliContext.FindUserAsync(session, parse.GetRequiredValue(user), cancellationToken);
            if (owner.Value is not { } ownerUser)
            {
                return cli.Fail(owner.Failure!);
            }

            var manager = session.Get<BudgetManager>();
            var created = await manager.CreateAsync(
                Actor.LocalOperator,
                new NewBudget(ownerUser.Id, parse.GetRequiredValue(name), parse.GetValue(allocation), parse.GetValue(llmTokens), parse.GetValue(hours)),
                cancellationToken);
            if (created.Value is not { } budget)
            {
                return cli.Fail(created.Failure!);
            }

            if (parse.GetValue(json))
            {
                cli.WriteJson(BudgetResponse.From(await manager.ViewAsync(budget, cancellationToken), session.Time.GetUtcNow()));
                return IronAuthCli.Succeeded;
            }

            cli.Out.WriteLine(budget.Id);
            cli.Error.WriteLine($"Budget '{budget.Name}' for '{ownerUser.Username}': {parse.GetValue(allocation)}, expires {CliContext.Time(budget.ExpiresAt)}.");
            return IronAuthCli.Succeeded;
        }));
        return command;
    }

    private static Command ListCommand(CliContext cli)
    {
        var user = new Option<string>("--user") { Description = "Only this user's budgets (username or id)." };
        var json = new Option<bool>("--json") { Description = "Write JSON (the HTTP API's budget objects)." };
        var command = new Command("list", "List budgets, oldest first.") { user, json };
        command.SetAction((parse, cancellationToken) => cli.RunAsync(parse, cancellationToken, async session =>
        {
            var filter = await CliContext.FindUserIdAsync(session, parse.GetValue(user), cancellationToken);
            if (filter.Failure is { } notFound)
            {
                return cli.Fail(notFound);
            }

            var ownerId = filter.Value;

            var manager = session.Get<BudgetManager>();
            var budgets = new List<BudgetResponse>();
            string? position = null;
            var now = session.Time.GetUtcNow();
            do
            {
                var page = await manager.ListAsync(ownerId, position, 200, cancellationToken);
                foreach (var budget in page.Items)
                {
                    budgets.Add(BudgetResponse.From(await manager.ViewAsync(budget, cancellationToken), now));
                }

                position = page.Next;
            }
            while (position is not null);

            if (parse.GetValue(json))
            {
                cli.WriteJson(budgets);
                return IronAuthCli.Succeeded;
            }

            TextTable.Write(
                cli.Out,
                ["ID", "NAME", "ALLOCATION", "SPENT", "AVAILABLE", "OPEN LEASES", "EXPIRES", "STATE"],
                budgets.Select(b => new[]
                {
                    b.Id, b.Name, CliContext.Number(b.Allocation), CliContext.Number(b.Spent), CliContext.Number(b.Available),
                    CliContext.Number(b.OpenLeases), CliContext.Time(b.ExpiresAt), b.State,
                }));
            return IronAuthCli.Succeeded;
        }));
        return command;
    }

    private static Command ShowCommand(CliContext cli)
    {
        var id = new Argument<string>("id") { Description = "The budget's id." };
        var status = new Option<bool>("--status") { Description = "Write the budget's status instead: share spent and risk level (GET /api/budgets/{id}/status)." };
        var command = new Command("show", "One budget as JSON (the HTTP API's budget object, with spend per agent; never the credential).") { id, status };
        command.SetAction((parse, cancellationToken) => cli.RunAsync(parse, cancellationToken, async session =>
        {
            var manager = session.Get<BudgetManager>();
            var found = await manager.GetAsync(parse.GetRequiredValue(id), cancellationToken);
            if (found.Value is not { } budget)
            {
                return cli.Fail(found.Failure!);
            }

            if (parse.GetValue(status))
            {
                cli.WriteJson(BudgetStatusResponse.From(budget, session.Time.GetUtcNow()));
                return IronAuthCli.Succeeded;
            }

            cli.WriteJson(BudgetResponse.From(await manager.ViewAsync(budget, cancellationToken), session.Time.GetUtcNow()));
            return IronAuthCli.Succeeded;
        }));
        return command;
    }

    private static Command RevokeCommand(CliContext cli)
    {
        var id = new Argument<string>("id") { Description = "The budget's id." };
        var command = new Command("revoke", "Revoke a budget: its IC tokens and leases stop at once.") { id };
        command.SetAction((parse, cancellationToken) => cli.RunAsync(parse, cancellationToken, async session =>
        {
            var manager = session.Get<BudgetManager>();
            var found = await manager.GetAsync(parse.GetRequiredValue(id), cancellationToken);
            if (found.Value is not { } budget)
            {
                return cli.Fail(found.Failure!);
            }

            await manager.RevokeAsync(Actor.LocalOperator, budget, cancellationToken);
            cli.Out.WriteLine(budget.RevokedAt is null ? $"Revoked budget {budget.Id} '{budget.Name}'." : $"Budget {budget.Id} was already revoked.");
            return IronAuthCli.Succeeded;
        }));
        return command;
    }

    private static Command SetCredentialCommand(CliContext cli)
    {
        var id = new Argument<string>("id") { Description = "The budget's id." };
        var provider = new Option<string>("--provider") { Description = "The provider's name (e.g. openai).", Required = true };
        var command = new Command(
            "set-credential",
            "Attach the provider credential, read from the first line of standard input (never an argument: every local user sees those). "
            + "Needs IronAuth:Budgets:CredentialKey.") { id, provider };
        command.SetAction((parse, cancellationToken) => cli.RunAsync(parse, cancellationToken, async session =>
        {
            var manager = session.Get<BudgetManager>();
            var found = await manager.GetAsync(parse.GetRequiredValue(id), cancellationToken);
            if (found.Value is not { } budget)
            {
                return cli.Fail(found.Failure!);
            }

            if (cli.In.ReadLine() is not { Length: > 0 } secret)
            {
                return cli.Fail(Failure.Validation("No credential on standard input: give it as the first line."));
            }

            if (await manager.SetCredentialAsync(Actor.LocalOperator, budget, parse.GetRequiredValue(provider), secret, cancellationToken) is { } failure)
            {
                return cli.Fail(failure);
            }

            cli.Out.WriteLine($"Attached a '{parse.GetRequiredValue(provider)}' credential to budget {budget.Id}; only a handshake returns it.");
            return IronAuthCli.Succeeded;
        }));
        return command;
    }

    private static Command MintCommand(CliContext cli)
    {
        var id = new Argument<string>("id") { Description = "The budget's id." };
        var agent = new Option<string>("--agent") { Description = "The agent the token names (its sub and agent_id).", Required = true };
        var permissions = new Option<string[]>("--permission")
        {
            Description = $"A protocol permission (repeat for several): {string.Join(", ", BudgetRules.ProtocolPermissions)}. Default: all.",
        };
        var hours = new Option<int?>("--hours") { Description = "Lifetime in hours (default IronAuth:Budgets:IcTokenLifetime, at most IronAuth:Budgets:MaxIcTokenLifetime; never past the budget's expiry)." };
        var json = new Option<bool>("--json") { Description = "Write JSON (the HTTP API's minted-token object) instead of the bare token." };
        var command = new Command("mint", "Mint an IC token for an agent; it is printed once, alone on standard output.") { id, agent, permissions, hours, json };
        command.SetAction((parse, cancellationToken) => cli.RunAsync(parse, cancellationToken, async session =>
        {
            var manager = session.Get<BudgetManager>();
            var found = await manager.GetAsync(parse.GetRequiredValue(id), cancellationToken);
            if (found.Value is not { } budget)
            {
                return cli.Fail(found.Failure!);
            }

            var agentId = parse.GetRequiredValue(agent);
            var granted = parse.GetValue(permissions) is { Length: > 0 } listed ? listed : null;
            var minted = await manager.MintAsync(Actor.LocalOperator, budget, agentId, granted, parse.GetValue(hours), cancellationToken);
            if (minted.Value is not { } token)
            {
                return cli.Fail(minted.Failure!);
            }

            if (parse.GetValue(json))
            {
                cli.WriteJson(new MintedIcTokenResponse(token.Token, token.ExpiresAt, token.Jti, agentId, budget.Id));
                return IronAuthCli.Succeeded;
            }

            cli.Out.WriteLine(token.Token);
            cli.Error.WriteLine($"IC token {token.Jti} for agent '{agentId}' on budget {budget.Id}, expires {CliContext.Time(token.ExpiresAt)}.");
            return IronAuthCli.Succeeded;
        }));
        return command;
    }
}
