using System.Net;
using System.Net.Http.Json;
using IronAuth.Tests.Support;

namespace IronAuth.Tests.EndToEnd;

/// <summary>Usage reports with an idempotency key and a model breakdown, over HTTP (issue 19).</summary>
public abstract class UsageIdempotencyTests(string store) : IAsyncLifetime
{
    private TestServer server = null!;
    private HttpClient admin = null!;

    public async Task InitializeAsync()
    {
        server = await TestServer.StartAsync(store);
        admin = server.NewClient((await server.LoginAdminAsync()).Access);
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    private static async Task<(string Token, string Id)> CreateTokenAsync(HttpClient client, object? limits = null)
    {
        var created = await (await client.PostAsJsonAsync("api/tokens", new { name = "gw-" + Guid.NewGuid().ToString("N")[..8], limits = limits ?? new { burst = 1000 } })).ReadJsonAsync();
        return (created["token"]!.GetValue<string>(), created["metadata"]!["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_verify_and_a_usage_record_each_sent_twice_with_one_request_id_count_once()
    {
        var (token, id) = await CreateTokenAsync(admin, new { burst = 1000, daily_tokens = 10_000 });
        var verify = new { token, request_id = "req-" + Guid.NewGuid(), usage = new { model = "gpt-4o", provider = "openai", input_tokens = 100, output_tokens = 50, cost = 0.01m } };

        var first = await admin.PostAsJsonAsync("api/tokens/verify", verify);
        var second = await admin.PostAsJsonAsync("api/tokens/verify", verify);

        var (a, b) = (await first.ReadJsonAsync(), await second.ReadJsonAsync());
        Assert.False(first.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal("true", second.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(a["quota"]!.ToJsonString(), b["quota"]!.ToJsonString());
        Assert.Equal(a["ratelimit"]!["remaining"]!.GetValue<int>(), b["ratelimit"]!["remaining"]!.GetValue<int>());
        Assert.Equal(150, b["quota"]!["daily_tokens"]!["used"]!.GetValue<long>());

        var record = new { request_id = "rec-" + Guid.NewGuid(), requests = 2, model = "claude-3-5-sonnet", provider = "anthropic", input_tokens = 10, output_tokens = 5, cost = 0.02m };
        var recorded = await (await admin.PostAsJsonAsync($"api/tokens/{id}/usage", record)).ReadJsonAsync();
        var again = await admin.PostAsJsonAsync($"api/tokens/{id}/usage", record);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(recorded.ToJsonString(), (await again.ReadJsonAsync()).ToJsonString());

        // The same key on the other endpoint is another key: verify and record never answer for each other.
        await admin.PostAsJsonAsync($"api/tokens/{id}/usage", new { request_id = verify.request_id, requests = 1 });

        var today = (await (await admin.GetAsync($"api/tokens/{id}/usage?days=1")).ReadJsonAsync()).AsArray().Single()!;
        Assert.Equal((4L, 165L, 0.03m), (today["requests"]!.GetValue<long>(), today["tokens"]!.GetValue<long>(), today["cost"]!.GetValue<decimal>()));
    }

    [Theory]
    [InlineData("""{"token":"iron_x","request_id":""}""")]
    [InlineData("""{"token":"iron_x","request_id":"has space"}""")]
    [InlineData("""{"token":"iron_x","usage":{"model":"a\tb"}}""")]
    [InlineData("""{"token":"iron_x","usage":{"provider":"ünïcode"}}""")]
    [InlineData("""{"token":"iron_x","usage":{"model":"*"}}""")]
    [InlineData("""{"token":"iron_x","usage":{"tokens":10,"input_tokens":4,"output_tokens":5}}""")]
    [InlineData("""{"token":"iron_x","usage":{"input_tokens":-1}}""")]
    [InlineData("""{"token":"iron_x","usage":{"input_tokens":1000000000000,"output_tokens":1}}""")]
    public async Task Bad_request_ids_and_model_details_are_a_400_problem(string body)
    {
        var response = await admin.PostAsync("api/tokens/verify", HttpAssertions.Json(body));
        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
    }

    [Fact]
    public async Task A_model_or_provider_name_longer_than_the_bound_is_a_400_problem()
    {
        var (_, id) = await CreateTokenAsync(admin);
        var response = await admin.PostAsJsonAsync($"api/tokens/{id}/usage", new { tokens = 1, model = new string('m', 65) });
        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        var longId = await admin.PostAsJsonAsync($"api/tokens/{id}/usage", new { tokens = 1, request_id = new string('r', 129) });
        await longId.AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
    }

    [Fact]
    public async Task Two_server_processes_on_one_store_count_a_repeated_request_id_once()
    {
        using var shared = await TestStore.CreateAsync(store);
        var settings = ServerProcess.SettingsFor(shared);

        await using var first = await ServerProcess.StartAsync(settings);
        await using var second = await ServerProcess.StartAsync(settings);
        var access = await first.LoginAdminAsync();
        var (token, id) = await CreateTokenAsync(first.NewClient(access));
        var keys = Enumerable.Range(0, 4).Select(_ => Guid.NewGuid().ToString()).ToList();

        // Each key sent six times, half to each process, all at once: a gateway retrying through a load balancer.
        var answers = await Task.WhenAll(Enumerable.Range(0, 24).Select(async i =>
        {
            var client = (i % 2 == 0 ? first : second).NewClient(access);
            var response = await client.PostAsJsonAsync("api/tokens/verify", new { token, request_id = keys[i % 4], usage = new { tokens = 10 } });
            return await response.ReadJsonAsync();
        }));

        Assert.All(answers, a => Assert.True(a["valid"]!.GetValue<bool>()));
        var today = (await (await second.NewClient(access).GetAsync($"api/tokens/{id}/usage?days=1")).ReadJsonAsync()).AsArray().Single()!;
        Assert.Equal((4L, 40L), (today["requests"]!.GetValue<long>(), today["tokens"]!.GetValue<long>()));
        foreach (var group in answers.Select((a, i) => (a, i)).GroupBy(x => x.i % 4))
        {
            Assert.Single(group.Select(x => x.a["quota"]!["daily_requests"]!["used"]!.GetValue<long>()).Distinct());
        }
    }
}

public sealed class SqliteUsageIdempotencyTests() : UsageIdempotencyTests(TestStore.Sqlite);

public sealed class TablesUsageIdempotencyTests() : UsageIdempotencyTests(TestStore.Tables);
