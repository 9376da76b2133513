using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using IronAuth.Tests.Support;

namespace IronAuth.Tests.EndToEnd;

/// <summary><c>GET /api/usage</c> (issue 19): every grouping sums to the tokens' own daily histories, on both stores.</summary>
public abstract class SpendingAnalyticsTests(string store) : IAsyncLifetime
{
    private static readonly string[] Groupings = ["token", "user", "model", "provider"];

    private TestServer server = null!;
    private HttpClient admin = null!;

    public async Task InitializeAsync()
    {
        server = await TestServer.StartAsync(store);
        admin = server.NewClient((await server.LoginAdminAsync()).Access);
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    private async Task<(string Token, string Id)> CreateTokenAsync(string userId, string name)
    {
        var created = await (await admin.PostAsJsonAsync("api/tokens", new { name, user_id = userId, limits = new { burst = 1000 } })).ReadJsonAsync();
        return (created["token"]!.GetValue<string>(), created["metadata"]!["id"]!.GetValue<string>());
    }

    private async Task VerifyAsync(string token, object? usage = null)
    {
        var verdict = await (await admin.PostAsJsonAsync("api/tokens/verify", new { token, usage })).ReadJsonAsync();
        Assert.True(verdict["valid"]!.GetValue<bool>(), verdict.ToJsonString());
    }

    private async Task RecordAsync(string id, object usage) =>
        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsJsonAsync($"api/tokens/{id}/usage", usage)).StatusCode);

    private static async Task<JsonNode> ReportAsync(HttpClient client, string query)
    {
        var response = await client.GetAsync("api/usage?" + query);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!;
    }

    private static (long Requests, long Tokens, decimal Cost) Sum(IEnumerable<JsonNode> rows) => (
        rows.Sum(r => r["requests"]!.GetValue<long>()), rows.Sum(r => r["tokens"]!.GetValue<long>()), rows.Sum(r => r["cost"]!.GetValue<decimal>()));

    /// <summary>Two users' three tokens over two days, usage with and without model detail, verified and recorded.</summary>
    private async Task<(string UserAccess, string[] UserTokenIds, string[] AllTokenIds)> SpendAsync()
    {
        var alice = await server.CreateUserAsync("user");
        var bob = await server.CreateUserAsync("user");
        var (a1, a1Id) = await CreateTokenAsync(alice.Tokens.UserId, "alice-chat");
        var (a2, a2Id) = await CreateTokenAsync(alice.Tokens.UserId, "alice-batch");
        var (b1, b1Id) = await CreateTokenAsync(bob.Tokens.UserId, "bob-agent");

        // Yesterday.
        await VerifyAsync(a1, new { model = "gpt-4o", provider = "openai", input_tokens = 100, output_tokens = 20, cost = 0.5m });
        await VerifyAsync(a1, new { tokens = 5, cost = 0.01m });
        await VerifyAsync(a2, new { provider = "openai", tokens = 7 });
        await RecordAsync(b1Id, new { requests = 3, model = "claude-3-5-sonnet", provider = "anthropic", input_tokens = 40, output_tokens = 2, cost = 1.25m });

        server.Time.Advance(TimeSpan.FromDays(1));
        admin = server.NewClient((await server.LoginAdminAsync()).Access);

        // Today.
        await VerifyAsync(a1, new { model = "gpt-4o", provider = "openai", input_tokens = 10, output_tokens = 10, cost = 0.2m });
        await VerifyAsync(a2);
        await RecordAsync(b1Id, new { requests = 2, tokens = 9, cost = 0.3m });
        await VerifyAsync(b1, new { model = "gpt-4o-mini", provider = "openai", input_tokens = 1, output_tokens = 1, cost = 0.000001m });
        var aliceAccess = (await server.LoginAsync(alice.Username, alice.Password)).Access;
        return (aliceAccess, [a1Id, a2Id], [a1Id, a2Id, b1Id]);
    }

    private async Task<(long Requests, long Tokens, decimal Cost)> HistoriesAsync(IEnumerable<string> tokenIds, string from, string to)
    {
        var days = new List<JsonNode>();
        foreach (var id in tokenIds)
        {
            var history = await (await admin.GetAsync($"api/tokens/{id}/usage?days=7")).ReadJsonAsync();
            days.AddRange(history.AsArray().Select(d => d!).Where(d => string.CompareOrdinal(d["day"]!.GetValue<string>(), from) >= 0 && string.CompareOrdinal(d["day"]!.GetValue<string>(), to) <= 0));
        }

        return Sum(days);
    }

    [Fact]
    public async Task Every_grouping_sums_to_the_tokens_own_histories_for_every_period()
    {
        var (_, _, all) = await SpendAsync();

        foreach (var period in new[] { "today", "yesterday", "last-7-days", "last-30-days" })
        {
            foreach (var group in Groupings)
            {
                var report = await ReportAsync(admin, $"period={period}&group_by={group}&limit=200");
                var expected = await HistoriesAsync(all, report["from"]!.GetValue<string>(), report["to"]!.GetValue<string>());
                var items = report["items"]!.AsArray().Select(i => i!).ToList();
                Assert.Equal(expected, Sum([report["totals"]!]));
                Assert.Equal(expected, Sum(items));
                Assert.Equal(group, report["group_by"]!.GetValue<string>());
                // Most spent first: cost, then requests.
                var order = items.Select(i => (i["cost"]!.GetValue<decimal>(), i["requests"]!.GetValue<long>())).ToList();
                Assert.Equal(order.OrderByDescending(o => o.Item1).ThenByDescending(o => o.Item2), order);
            }
        }
    }

    [Fact]
    public async Task Models_and_providers_are_summed_with_their_input_and_output_tokens_and_the_rest_is_unspecified()
    {
        await SpendAsync();

        var byModel = await ReportAsync(admin, "period=last-7-days&group_by=model");
        var models = byModel["items"]!.AsArray().ToDictionary(i => i!["key"]!.GetValue<string>(), i => i!);
        Assert.Equal(["", "claude-3-5-sonnet", "gpt-4o", "gpt-4o-mini"], models.Keys.Order(StringComparer.Ordinal));
        Assert.Equal((2L, 140L, 110L, 30L, 0.7m), (models["gpt-4o"]["requests"]!.GetValue<long>(), models["gpt-4o"]["tokens"]!.GetValue<long>(),
            models["gpt-4o"]["input_tokens"]!.GetValue<long>(), models["gpt-4o"]["output_tokens"]!.GetValue<long>(), models["gpt-4o"]["cost"]!.GetValue<decimal>()));
        Assert.Equal("unspecified", models[""]["name"]!.GetValue<string>());
        // Unspecified model: a1's plain verify (5 tokens), a2's provider-only (7) and plain verifies, b1's plain record (2 requests, 9 tokens).
        Assert.Equal((5L, 21L), (models[""]["requests"]!.GetValue<long>(), models[""]["tokens"]!.GetValue<long>()));

        var byProvider = await ReportAsync(admin, "period=last-7-days&group_by=provider");
        var providers = byProvider["items"]!.AsArray().ToDictionary(i => i!["key"]!.GetValue<string>(), i => i!["requests"]!.GetValue<long>());
        Assert.Equal(new Dictionary<string, long> { ["anthropic"] = 3, ["openai"] = 4, [""] = 4 }, providers);
        Assert.Equal((151L, 33L), (byProvider["totals"]!["input_tokens"]!.GetValue<long>(), byProvider["totals"]!["output_tokens"]!.GetValue<long>()));

        var byToken = await ReportAsync(admin, "period=yesterday&group_by=token");
        var first = byToken["items"]![0]!;
        Assert.Equal(("bob-agent", 1.25m), (first["name"]!.GetValue<string>(), first["cost"]!.GetValue<decimal>()));
    }

    [Fact]
    public async Task A_user_sees_only_its_own_tokens_usage_and_admins_may_narrow_to_one_user()
    {
        var (aliceAccess, aliceTokens, _) = await SpendAsync();
        var alice = server.NewClient(aliceAccess);

        var own = await ReportAsync(alice, "period=last-7-days&group_by=token");
        Assert.Equal(aliceTokens.Order(StringComparer.Ordinal), own["items"]!.AsArray().Select(i => i!["key"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        Assert.Equal(await HistoriesAsync(aliceTokens, own["from"]!.GetValue<string>(), own["to"]!.GetValue<string>()), Sum([own["totals"]!]));
        var byUser = await ReportAsync(alice, "period=last-7-days&group_by=user");
        Assert.Single(byUser["items"]!.AsArray());

        var users = await ReportAsync(admin, "period=last-7-days&group_by=user");
        Assert.Equal(2, users["items"]!.AsArray().Count);
        var aliceId = byUser["items"]![0]!["key"]!.GetValue<string>();
        var narrowed = await ReportAsync(admin, $"period=last-7-days&group_by=token&user_id={aliceId}");
        Assert.Equal(Sum([own["totals"]!]), Sum([narrowed["totals"]!]));

        var bob = users["items"]!.AsArray().Select(i => i!["key"]!.GetValue<string>()).Single(k => k != aliceId);
        await (await alice.GetAsync($"api/usage?user_id={bob}")).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task Pages_follow_the_cursor_through_every_group_once()
    {
        await SpendAsync();

        var all = await ReportAsync(admin, "period=last-7-days&group_by=model");
        var keys = new List<string>();
        var query = "period=last-7-days&group_by=model&limit=1";
        while (true)
        {
            var page = await ReportAsync(admin, query);
            keys.AddRange(page["items"]!.AsArray().Select(i => i!["key"]!.GetValue<string>()));
            Assert.Equal(all["totals"]!.ToJsonString(), page["totals"]!.ToJsonString());
            if (page["next_cursor"]?.GetValue<string>() is not { } cursor)
            {
                break;
            }

            query = $"period=last-7-days&group_by=model&limit=1&cursor={Uri.EscapeDataString(cursor)}";
        }

        Assert.Equal(all["items"]!.AsArray().Select(i => i!["key"]!.GetValue<string>()), keys);
        Assert.Equal(4, keys.Count);
    }

    [Theory]
    [InlineData("group_by=team")]
    [InlineData("period=last-week")]
    [InlineData("period=today&from=2026-01-01")]
    [InlineData("from=2026-13-01")]
    [InlineData("from=2026-02-02&to=2026-02-01")]
    [InlineData("from=2020-01-01&to=2026-01-01")]
    [InlineData("limit=0")]
    [InlineData("cursor=not-a-cursor")]
    public async Task Bad_queries_are_a_400_problem(string query) =>
        await (await admin.GetAsync("api/usage?" + query)).AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");

    [Fact]
    public async Task The_report_needs_a_signed_in_caller() =>
        await (await server.NewClient().GetAsync("api/usage")).AssertProblemAsync(HttpStatusCode.Unauthorized, "missing_credentials");
}

public sealed class SqliteSpendingAnalyticsTests() : SpendingAnalyticsTests(TestStore.Sqlite);

public sealed class TablesSpendingAnalyticsTests() : SpendingAnalyticsTests(TestStore.Tables);
