using System.Net;
using System.Net.Http.Json;
using IronAuth.Tests.Support;

namespace IronAuth.Tests.Budgets;

/// <summary>Two real <c>ironauth</c> processes on one store: grants are exact across them.</summary>
public abstract class BudgetProcessTests(string store)
{
    [Fact]
    public async Task Forty_concurrent_handshakes_split_across_two_processes_grant_exactly_the_allocation()
    {
        using var shared = await TestStore.CreateAsync(store);
        var settings = ServerProcess.SettingsFor(shared);

        await using var first = await ServerProcess.StartAsync(settings);
        await using var second = await ServerProcess.StartAsync(settings);
        var access = await first.LoginAdminAsync();
        var admin = first.NewClient(access);
        var budget = await (await admin.PostAsJsonAsync("api/budgets", new { name = "shared", allocation = 100m })).ReadJsonAsync();
        var budgetId = budget["id"]!.GetValue<string>();
        var token = (await (await admin.PostAsJsonAsync($"api/budgets/{budgetId}/ic-tokens", new { agent_id = "swarm" })).ReadJsonAsync())["token"]!.GetValue<string>();
        var runtimes = new[] { first.NewClient(token), second.NewClient(token) };
        // Warm both processes up on another budget (JIT, keys, connections), so that the race below is between two
        // running processes rather than one that is still starting.
        var warmId = (await (await admin.PostAsJsonAsync("api/budgets", new { name = "warm", allocation = 1m })).ReadJsonAsync())["id"]!.GetValue<string>();
        var warm = (await (await admin.PostAsJsonAsync($"api/budgets/{warmId}/ic-tokens", new { agent_id = "warm" })).ReadJsonAsync())["token"]!.GetValue<string>();
        foreach (var process in new[] { first, second })
        {
            Assert.Equal(HttpStatusCode.OK, (await process.NewClient(warm).PostAsJsonAsync("api/budgets/handshake", new { requested_budget = 0.1m })).StatusCode);
        }

        var responses = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => runtimes[i % 2].PostAsJsonAsync("api/budgets/handshake", new { requested_budget = 10m })));

        var granted = new List<decimal>();
        foreach (var response in responses)
        {
            if (response.StatusCode == HttpStatusCode.OK)
            {
                granted.Add((await response.ReadJsonAsync())["budget_granted"]!.GetValue<decimal>());
            }
            else
            {
                await response.AssertProblemAsync(HttpStatusCode.PaymentRequired, "budget_exhausted");
            }
        }

        Assert.Equal(100m, granted.Sum());
        Assert.Equal(10, granted.Count);
        var after = await (await second.NewClient(access).GetAsync($"api/budgets/{budgetId}")).ReadJsonAsync();
        Assert.Equal((0m, 100m, 10), (after["available"]!.GetValue<decimal>(), after["granted"]!.GetValue<decimal>(), after["open_leases"]!.GetValue<int>()));
    }
}

public sealed class SqliteBudgetProcessTests() : BudgetProcessTests(TestStore.Sqlite);

public sealed class TablesBudgetProcessTests() : BudgetProcessTests(TestStore.Tables);
