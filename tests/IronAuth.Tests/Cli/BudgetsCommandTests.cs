using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using IronAuth.Tests.Support;

namespace IronAuth.Tests.Cli;

public sealed class BudgetsCommandTests : IDisposable
{
    private readonly CliRunner cli = new();

    public void Dispose() => cli.Dispose();

    [Fact]
    public async Task A_budget_made_on_the_command_line_serves_its_ic_token_and_credential_over_http_until_revoked()
    {
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        await cli.CreateUserAsync("ada");
        var budgetId = Assert.Single((await cli.SucceedAsync("budgets", "create", "--user", "ada", "--name", "agents", "--allocation", "100")).OutputLines);

        // No key configured: nothing can be sealed. With one, the credential comes from standard input.
        (await cli.RunWithInputAsync("sk-cli-secret\n", "budgets", "set-credential", budgetId, "--provider", "openai")).AssertFailed("credential_key_missing");
        cli.Settings["IronAuth:Budgets:CredentialKey"] = key;
        (await cli.RunAsync("budgets", "set-credential", budgetId, "--provider", "openai")).AssertFailed("validation_failed");
        var attached = await cli.SucceedWithInputAsync("sk-cli-secret\n", "budgets", "set-credential", budgetId, "--provider", "openai");
        Assert.DoesNotContain("sk-cli-secret", attached.Output + attached.Error, StringComparison.Ordinal);

        var minted = await cli.SucceedAsync("budgets", "mint", budgetId, "--agent", "agent-1");
        var token = Assert.Single(minted.OutputLines);
        Assert.Equal(3, token.Split('.').Length);
        Assert.Contains("agent-1", minted.Error, StringComparison.Ordinal);

        await using var server = await TestServer.StartAsync(
            TestStore.AtSqliteFile(cli.DatabasePath),
            new Dictionary<string, string?>
            {
                ["IronAuth:Jwt:Algorithm"] = "RS256",
                ["IronAuth:Budgets:CredentialKey"] = key,
                // The issuer the command line signed with (the default): one deployment, one issuer.
                ["IronAuth:Jwt:Issuer"] = IronAuth.Core.Configuration.JwtOptions.DefaultIssuer,
            },
            cli.Time);
        var runtime = server.NewClient(token);
        var handshake = await (await runtime.PostAsJsonAsync("api/budgets/handshake", new { requested_budget = 10m })).ReadJsonAsync();
        Assert.Equal(("sk-cli-secret", 10m), (handshake["ip_token"]!.GetValue<string>(), handshake["budget_granted"]!.GetValue<decimal>()));

        var shown = (await cli.SucceedAsync("budgets", "show", budgetId)).Json;
        Assert.Equal((100m, 90m, "openai", 1), (shown["allocation"]!.GetValue<decimal>(), shown["available"]!.GetValue<decimal>(), shown["provider"]!.GetValue<string>(), shown["open_leases"]!.GetValue<int>()));
        Assert.DoesNotContain("sk-cli-secret", shown.ToJsonString(), StringComparison.Ordinal);
        var listed = (await cli.SucceedAsync("budgets", "list", "--user", "ada")).Table();
        Assert.Equal(["ID", "NAME", "ALLOCATION", "SPENT", "AVAILABLE", "OPEN LEASES", "EXPIRES", "STATE"], listed[0]);
        Assert.Equal([budgetId, "agents", "100", "0", "90", "1", "2026-12-23T09:00:00Z", "active"], listed[1]);

        Assert.Contains("Revoked budget", (await cli.SucceedAsync("budgets", "revoke", budgetId)).Output, StringComparison.Ordinal);
        await (await runtime.PostAsJsonAsync("api/budgets/handshake", new { requested_budget = 1m })).AssertProblemAsync(HttpStatusCode.Forbidden, "budget_revoked");
        Assert.Contains("already revoked", (await cli.SucceedAsync("budgets", "revoke", budgetId)).Output, StringComparison.Ordinal);
        (await cli.RunAsync("budgets", "mint", budgetId, "--agent", "late")).AssertFailed("budget_ended");
    }

    [Fact]
    public async Task Bad_amounts_agents_and_ids_fail_with_their_codes()
    {
        await cli.CreateUserAsync("ada");
        (await cli.RunAsync("budgets", "create", "--user", "ada", "--name", "n", "--allocation", "-1")).AssertFailed("validation_failed");
        (await cli.RunAsync("budgets", "create", "--user", "ada", "--name", "n", "--allocation", "1.0000001")).AssertFailed("validation_failed");
        (await cli.RunAsync("budgets", "create", "--user", "nobody", "--name", "n", "--allocation", "1")).AssertFailed("not_found");
        var budgetId = (await cli.SucceedAsync("budgets", "create", "--user", "ada", "--name", "n", "--allocation", "1.5")).Output.Trim();
        (await cli.RunAsync("budgets", "mint", budgetId, "--agent", "has space")).AssertFailed("validation_failed");
        (await cli.RunAsync("budgets", "mint", budgetId, "--agent", "a", "--permission", "spend")).AssertFailed("validation_failed");
        (await cli.RunAsync("budgets", "show", budgetId[..^1] + (budgetId[^1] == 'a' ? "b" : "a"))).AssertFailed("not_found");
        var json = (await cli.SucceedAsync("budgets", "mint", budgetId, "--agent", "a", "--permission", "report", "--json")).Json;
        Assert.Equal(budgetId, json["budget_id"]!.GetValue<string>());
    }

    [Fact]
    public async Task Budget_spend_by_budget_and_agent_and_a_budgets_risk_on_the_command_line()
    {
        await cli.CreateUserAsync("ada");
        var budgetId = Assert.Single((await cli.SucceedAsync("budgets", "create", "--user", "ada", "--name", "agents", "--allocation", "10")).OutputLines);
        var token = Assert.Single((await cli.SucceedAsync("budgets", "mint", budgetId, "--agent", "agent-1")).OutputLines);
        await using (var server = await TestServer.StartAsync(
            TestStore.AtSqliteFile(cli.DatabasePath),
            new Dictionary<string, string?> { ["IronAuth:Jwt:Algorithm"] = "RS256", ["IronAuth:Jwt:Issuer"] = IronAuth.Core.Configuration.JwtOptions.DefaultIssuer },
            cli.Time))
        {
            var runtime = server.NewClient(token);
            var lease = (await (await runtime.PostAsJsonAsync("api/budgets/handshake", new { requested_budget = 8m })).ReadJsonAsync())["lease_id"]!.GetValue<string>();
            Assert.Equal(HttpStatusCode.OK, (await runtime.PostAsJsonAsync("api/budgets/report", new { lease_id = lease, report_id = "r1", tokens = 40, cost = 8m })).StatusCode);
        }

        var byBudget = (await cli.SucceedAsync("usage", "--group-by", "budget")).Table();
        Assert.Equal(["BUDGET", "NAME", "REQUESTS", "TOKENS", "INPUT", "OUTPUT", "COST"], byBudget[0]);
        Assert.Equal([budgetId, "agents", "1", "40", "0", "0", "8"], byBudget[1]);
        var byAgent = (await cli.SucceedAsync("usage", "--group-by", "agent", "--user", "ada", "--json")).Json;
        Assert.Equal("agent-1", Assert.Single(byAgent["items"]!.AsArray())!["key"]!.GetValue<string>());

        var status = (await cli.SucceedAsync("budgets", "show", budgetId, "--status")).Json;
        Assert.Equal((0.8m, "high", "active"), (status["share_spent"]!.GetValue<decimal>(), status["risk"]!.GetValue<string>(), status["state"]!.GetValue<string>()));
    }
}
