using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using IronAuth.Tests.Support;

namespace IronAuth.Tests.Budgets;

/// <summary>
/// Budget spend in spending analytics (<c>GET /api/usage?group_by=budget|agent</c>) and <c>GET /api/budgets/{id}/status</c>
/// (issue 19), over HTTP on both stores.
/// </summary>
public abstract class BudgetAnalyticsTests(string store) : IAsyncLifetime
{
    private TestServer server = null!;
    private HttpClient admin = null!;

    public async Task InitializeAsync()
    {
        server = await TestServer.StartAsync(store);
        admin = server.NewClient((await server.LoginAdminAsync()).Access);
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    private string Today => server.Time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private static async Task<JsonNode> OkAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Created, text);
        return JsonNode.Parse(text)!;
    }

    private async Task<string> NewBudgetAsync(string name, string userId, decimal allocation) =>
        (await OkAsync(await admin.PostAsJsonAsync("api/budgets", new { name, user_id = userId, allocation })))["id"]!.GetValue<string>();

    /// <summary>A runtime for <paramref name="agent"/>: an IC token minted now (they last a day, so each day mints anew).</summary>
    private async Task<HttpClient> RuntimeAsync(string budgetId, string agent) =>
        server.NewClient((await OkAsync(await admin.PostAsJsonAsync($"api/budgets/{budgetId}/ic-tokens", new { agent_id = agent })))["token"]!.GetValue<string>());

    /// <summary>A lease of exactly <paramref name="cost"/>, spent by one report, so nothing stays reserved.</summary>
    private static async Task SpendAsync(HttpClient runtime, decimal cost, long tokens = 0, string? reportId = null)
    {
        var lease = (await OkAsync(await runtime.PostAsJsonAsync("api/budgets/handshake", new { requested_budget = cost })))["lease_id"]!.GetValue<string>();
        await OkAsync(await runtime.PostAsJsonAsync("api/budgets/report", new { lease_id = lease, report_id = reportId ?? Guid.NewGuid().ToString("N"), tokens, cost }));
    }

    private static async Task<JsonNode> UsageAsync(HttpClient client, string query) => await OkAsync(await client.GetAsync("api/usage?" + query));

    private static Dictionary<string, (string Name, long Requests, long Tokens, decimal Cost)> Items(JsonNode report) =>
        report["items"]!.AsArray().ToDictionary(
            i => i!["key"]!.GetValue<string>(),
            i => (i!["name"]!.GetValue<string>(), i["requests"]!.GetValue<long>(), i["tokens"]!.GetValue<long>(), i["cost"]!.GetValue<decimal>()));

    private static (long Requests, long Tokens, decimal Cost) Totals(JsonNode report) =>
        (report["totals"]!["requests"]!.GetValue<long>(), report["totals"]!["tokens"]!.GetValue<long>(), report["totals"]!["cost"]!.GetValue<decimal>());

    [Fact]
    public async Task Spend_by_budget_and_by_agent_equals_the_budgets_own_figures_and_each_day_only_its_own()
    {
        var ada = await server.CreateUserAsync("user");
        var bob = await server.CreateUserAsync("user");
        var research = await NewBudgetAsync("research", ada.Tokens.UserId, 100m);
        var batch = await NewBudgetAsync("batch", ada.Tokens.UserId, 100m);
        var bobs = await NewBudgetAsync("bobs", bob.Tokens.UserId, 100m);

        // Yesterday.
        var yesterday = Today;
        await SpendAsync(await RuntimeAsync(research, "planner"), 1m, 10);
        await SpendAsync(await RuntimeAsync(bobs, "crawler"), 2m, 20);

        server.Time.Advance(TimeSpan.FromDays(1));
        admin = server.NewClient((await server.LoginAdminAsync()).Access);

        // Today: a retried report_id counts once.
        var planner = await RuntimeAsync(research, "planner");
        await SpendAsync(planner, 0.5m, 5);
        var lease = (await OkAsync(await planner.PostAsJsonAsync("api/budgets/handshake", new { requested_budget = 0.2m })))["lease_id"]!.GetValue<string>();
        for (var i = 0; i < 2; i++)
        {
            await OkAsync(await planner.PostAsJsonAsync("api/budgets/report", new { lease_id = lease, report_id = "same", tokens = 2, cost = 0.2m }));
        }

        await SpendAsync(await RuntimeAsync(research, "writer"), 0.25m, 1);
        await SpendAsync(await RuntimeAsync(batch, "planner"), 3m, 30);
        await SpendAsync(await RuntimeAsync(bobs, "crawler"), 0.1m);

        var today = Items(await UsageAsync(admin, $"group_by=budget&from={Today}&to={Today}"));
        Assert.Equal(
            new Dictionary<string, (string, long, long, decimal)>
            {
                [research] = ("research", 3, 8, 0.95m),
                [batch] = ("batch", 1, 30, 3m),
                [bobs] = ("bobs", 1, 0, 0.1m),
            },
            today);
        var agentsToday = await UsageAsync(admin, "group_by=agent&period=today");
        Assert.Equal(
            new Dictionary<string, (string, long, long, decimal)>
            {
                ["planner"] = ("planner", 3, 37, 3.7m),
                ["writer"] = ("writer", 1, 1, 0.25m),
                ["crawler"] = ("crawler", 1, 0, 0.1m),
            },
            Items(agentsToday));
        Assert.Equal((5L, 38L, 4.05m), Totals(agentsToday));
        // Most spent first.
        Assert.Equal(["planner", "writer", "crawler"], agentsToday["items"]!.AsArray().Select(i => i!["key"]!.GetValue<string>()));

        var before = Items(await UsageAsync(admin, $"group_by=budget&from={yesterday}&to={yesterday}"));
        Assert.Equal([bobs, research], before.Keys);
        Assert.Equal((1L, 10L, 1m, 2m), (before[research].Requests, before[research].Tokens, before[research].Cost, before[bobs].Cost));

        // Both days: each budget's spent, and each agent's spend summed over the budgets' by_agent.
        var both = $"from={yesterday}&to={Today}";
        var byBudget = Items(await UsageAsync(admin, "group_by=budget&" + both));
        var byAgent = Items(await UsageAsync(admin, "group_by=agent&" + both));
        var expectedByAgent = new Dictionary<string, decimal>(StringComparer.Ordinal);
        foreach (var id in new[] { research, batch, bobs })
        {
            var budget = await OkAsync(await admin.GetAsync($"api/budgets/{id}"));
            Assert.Equal(budget["spent"]!.GetValue<decimal>(), byBudget[id].Cost);
            Assert.Equal(budget["spent_tokens"]!.GetValue<long>(), byBudget[id].Tokens);
            foreach (var (agent, spent) in budget["by_agent"]!.AsObject())
            {
                expectedByAgent[agent] = expectedByAgent.GetValueOrDefault(agent) + spent!.GetValue<decimal>();
            }
        }

        Assert.Equal(expectedByAgent.OrderBy(a => a.Key, StringComparer.Ordinal), byAgent.Select(a => KeyValuePair.Create(a.Key, a.Value.Cost)).OrderBy(a => a.Key, StringComparer.Ordinal));
        Assert.Equal(7, byBudget.Values.Sum(b => b.Requests));

        // A day with no reports has no groups.
        var tomorrow = server.Time.GetUtcNow().AddDays(1).UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var empty = await UsageAsync(admin, $"group_by=agent&from={tomorrow}&to={tomorrow}");
        Assert.Empty(empty["items"]!.AsArray());
        Assert.Equal((0L, 0L, 0m), Totals(empty));
    }

    [Fact]
    public async Task A_user_sees_only_the_spend_of_its_own_budgets_and_viewers_see_all()
    {
        var ada = await server.CreateUserAsync("user");
        var bob = await server.CreateUserAsync("user");
        var viewer = await server.CreateUserAsync("viewer");
        var adas = await NewBudgetAsync("adas", ada.Tokens.UserId, 10m);
        var bobs = await NewBudgetAsync("bobs", bob.Tokens.UserId, 10m);
        await SpendAsync(await RuntimeAsync(adas, "ada-agent"), 1m);
        await SpendAsync(await RuntimeAsync(bobs, "bob-agent"), 2m);

        var asAda = server.NewClient(ada.Tokens.Access);
        Assert.Equal([adas], Items(await UsageAsync(asAda, "group_by=budget")).Keys);
        Assert.Equal(["ada-agent"], Items(await UsageAsync(asAda, "group_by=agent")).Keys);
        Assert.Equal((1L, 0L, 1m), Totals(await UsageAsync(asAda, "group_by=agent")));
        await (await asAda.GetAsync($"api/usage?group_by=budget&user_id={bob.Tokens.UserId}")).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");

        var asViewer = server.NewClient(viewer.Tokens.Access);
        Assert.Equal([bobs, adas], Items(await UsageAsync(asViewer, "group_by=budget")).Keys);
        Assert.Equal([bobs], Items(await UsageAsync(asViewer, $"group_by=budget&user_id={bob.Tokens.UserId}")).Keys);

        // An API token reads budget spend with budgets:read, not tokens:read.
        var tokensOnly = (await OkAsync(await asAda.PostAsJsonAsync("api/tokens", new { name = "t", scopes = new[] { "tokens:read" } })))["token"]!.GetValue<string>();
        await (await server.NewClient(tokensOnly).GetAsync("api/usage?group_by=budget")).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        var budgetsOnly = (await OkAsync(await asAda.PostAsJsonAsync("api/tokens", new { name = "b", scopes = new[] { "budgets:read" } })))["token"]!.GetValue<string>();
        Assert.Equal([adas], Items(await UsageAsync(server.NewClient(budgetsOnly), "group_by=budget")).Keys);
    }

    [Fact]
    public async Task Status_risk_follows_the_share_spent_with_exact_boundaries()
    {
        var ada = await server.CreateUserAsync("user");
        var bob = await server.CreateUserAsync("user");
        var id = await NewBudgetAsync("risky", ada.Tokens.UserId, 100m);
        var runtime = await RuntimeAsync(id, "agent");
        var asAda = server.NewClient(ada.Tokens.Access);

        async Task AssertStatusAsync(decimal spent, decimal share, string risk, string state)
        {
            var status = await OkAsync(await asAda.GetAsync($"api/budgets/{id}/status"));
            Assert.Equal(
                (id, 100m, spent, 100m - spent, share, risk, state),
                (status["id"]!.GetValue<string>(), status["allocation"]!.GetValue<decimal>(), status["spent"]!.GetValue<decimal>(),
                    status["available"]!.GetValue<decimal>(), status["share_spent"]!.GetValue<decimal>(), status["risk"]!.GetValue<string>(), status["state"]!.GetValue<string>()));
            Assert.NotNull(status["expires_at"]);
        }

        await AssertStatusAsync(0m, 0m, "low", "active");
        await SpendAsync(runtime, 49.99m);
        await AssertStatusAsync(49.99m, 0.4999m, "low", "active");
        await SpendAsync(runtime, 0.01m);
        await AssertStatusAsync(50m, 0.5m, "medium", "active");
        await SpendAsync(runtime, 29.999999m);
        await AssertStatusAsync(79.999999m, 0.7999m, "medium", "active");
        await SpendAsync(runtime, 0.000001m);
        await AssertStatusAsync(80m, 0.8m, "high", "active");
        await SpendAsync(runtime, 14.99m);
        await AssertStatusAsync(94.99m, 0.9499m, "high", "active");
        await SpendAsync(runtime, 0.01m);
        await AssertStatusAsync(95m, 0.95m, "critical", "active");
        await SpendAsync(runtime, 4.999999m);
        await AssertStatusAsync(99.999999m, 0.9999m, "critical", "active");
        await SpendAsync(runtime, 0.000001m);
        await AssertStatusAsync(100m, 1m, "exhausted", "exhausted");

        await (await server.NewClient(bob.Tokens.Access).GetAsync($"api/budgets/{id}/status")).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await asAda.GetAsync("api/budgets/nope/status")).AssertProblemAsync(HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task A_budget_whose_rest_is_leased_out_is_exhausted_before_it_is_all_spent()
    {
        var ada = await server.CreateUserAsync("user");
        var id = await NewBudgetAsync("leased", ada.Tokens.UserId, 10m);
        var runtime = await RuntimeAsync(id, "agent");
        await SpendAsync(runtime, 2m);
        await OkAsync(await runtime.PostAsJsonAsync("api/budgets/handshake", new { requested_budget = 8m }));

        var status = await OkAsync(await server.NewClient(ada.Tokens.Access).GetAsync($"api/budgets/{id}/status"));
        Assert.Equal(
            (0.2m, 0m, "exhausted", "exhausted"),
            (status["share_spent"]!.GetValue<decimal>(), status["available"]!.GetValue<decimal>(), status["risk"]!.GetValue<string>(), status["state"]!.GetValue<string>()));
    }
}

public sealed class SqliteBudgetAnalyticsTests() : BudgetAnalyticsTests(TestStore.Sqlite);

public sealed class TablesBudgetAnalyticsTests() : BudgetAnalyticsTests(TestStore.Tables);
