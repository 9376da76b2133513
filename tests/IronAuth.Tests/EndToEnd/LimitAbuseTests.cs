using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using IronAuth.Tests.Support;

namespace IronAuth.Tests.EndToEnd;

/// <summary>
/// What an ordinary account could do to everyone else with its own tokens' limits and usage (issue 13): each test
/// is one finding, reproduced over HTTP, that must stay closed.
/// </summary>
public abstract class LimitAbuseTests(string store) : IAsyncLifetime
{
    private TestServer server = null!;
    private HttpClient admin = null!;

    public async Task InitializeAsync()
    {
        server = await TestServer.StartAsync(store, new Dictionary<string, string?>
        {
            ["IronAuth:RateLimits:RequestsPerSecond"] = "1",
            ["IronAuth:RateLimits:Burst"] = "3",
            ["IronAuth:Quotas:DailyRequests"] = "5",
            ["IronAuth:Tokens:MaxActivePerUser"] = "3",
            ["IronAuth:Tokens:MaxLifetimeDays"] = "90",
        });
        admin = server.NewClient((await server.LoginAdminAsync()).Access);
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    private static async Task<JsonNode> CreatedAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        return JsonNode.Parse(text)!;
    }

    [Theory]
    [InlineData("{\"requests_per_second\": 1e-300}")]
    [InlineData("{\"requests_per_second\": 0.0009}")]
    [InlineData("{\"requests_per_second\": 1e308}")]
    [InlineData("{\"requests_per_second\": -1}")]
    [InlineData("{\"burst\": 1000001}")]
    [InlineData("{\"burst\": 99999999999}")]
    [InlineData("{\"daily_requests\": 9223372036854775807}")]
    [InlineData("{\"daily_tokens\": 1000000000000001}")]
    [InlineData("{\"daily_cost\": 1000000000.000001}")]
    [InlineData("{\"daily_cost\": 79228162514264337593543950335}")]
    public async Task Limits_outside_the_documented_bounds_are_a_400_problem(string limits)
    {
        var response = await admin.PostAsync("api/tokens", HttpAssertions.Json($"{{\"name\":\"hostile\",\"limits\":{limits}}}"));

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
    }

    [Theory]
    [InlineData("{\"tokens\": 9223372036854775807}")]
    [InlineData("{\"tokens\": 1000000000001}")]
    [InlineData("{\"tokens\": -1}")]
    [InlineData("{\"cost\": 1000000000.5}")]
    [InlineData("{\"cost\": 79228162514264337593543950335}")]
    public async Task Usage_beyond_the_documented_bounds_is_a_400_problem_at_verify(string usage)
    {
        var token = (await CreatedAsync(await admin.PostAsJsonAsync("api/tokens", new { name = "metered" })))["token"]!.GetValue<string>();

        var response = await admin.PostAsync("api/tokens/verify", HttpAssertions.Json($"{{\"token\":\"{token}\",\"usage\":{usage}}}"));

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
    }

    [Theory]
    [InlineData("{\"requests\": 1000000001}")]
    [InlineData("{\"requests\": 9223372036854775807}")]
    [InlineData("{\"tokens\": 9223372036854775807}")]
    [InlineData("{\"cost\": 1000000001}")]
    public async Task Usage_beyond_the_documented_bounds_is_a_400_problem_after_the_fact(string usage)
    {
        var id = (await CreatedAsync(await admin.PostAsJsonAsync("api/tokens", new { name = "metered" })))["metadata"]!["id"]!.GetValue<string>();

        var response = await admin.PostAsync($"api/tokens/{id}/usage", HttpAssertions.Json(usage));

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
    }

    [Fact]
    public async Task A_user_cannot_lift_the_configured_limits_but_an_admin_may_grant_more()
    {
        var (_, _, user) = await server.CreateUserAsync("user");
        var asUser = server.NewClient(user.Access);

        // Configured: 1/s, burst 3, 5 requests a day. Each of these asks for more than that.
        foreach (var limits in new object[]
        {
            new { requests_per_second = 1_000_000 },
            new { burst = 4 },
            new { daily_requests = 6 },
            new { requests_per_second = 1_000_000, burst = 1_000_000, daily_requests = 1_000_000_000_000 },
        })
        {
            var refused = await asUser.PostAsJsonAsync("api/tokens", new { name = "lifted", limits });
            var problem = await refused.AssertProblemAsync(HttpStatusCode.Forbidden, "limit_above_ceiling");
            Assert.Contains("IronAuth:", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        // At or under the ceilings is fine, and so are quotas the configuration leaves uncapped.
        await CreatedAsync(await asUser.PostAsJsonAsync("api/tokens", new { name = "within", limits = new { requests_per_second = 0.5, burst = 3, daily_requests = 5, daily_tokens = 1000 } }));
        var lifted = await CreatedAsync(await admin.PostAsJsonAsync("api/tokens", new { name = "granted", user_id = user.UserId, limits = new { requests_per_second = 100, burst = 100, daily_requests = 1000 } }));
        var client = server.NewClient(lifted["token"]!.GetValue<string>());
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("api/auth/me")).StatusCode);
        }
    }

    [Fact]
    public async Task The_number_of_active_tokens_per_user_is_capped_with_a_409()
    {
        var (username, password, user) = await server.CreateUserAsync("user");
        var asUser = server.NewClient(user.Access);
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add((await CreatedAsync(await asUser.PostAsJsonAsync("api/tokens", new { name = $"t{i}", expires_in_days = i + 1 })))["metadata"]!["id"]!.GetValue<string>());
        }

        await (await asUser.PostAsJsonAsync("api/tokens", new { name = "fourth" })).AssertProblemAsync(HttpStatusCode.Conflict, "too_many_tokens");
        await (await admin.PostAsJsonAsync("api/tokens", new { name = "fourth", user_id = user.UserId })).AssertProblemAsync(HttpStatusCode.Conflict, "too_many_tokens");

        // A revoked or expired token no longer counts.
        Assert.Equal(HttpStatusCode.NoContent, (await asUser.DeleteAsync($"api/tokens/{ids[2]}")).StatusCode);
        await CreatedAsync(await asUser.PostAsJsonAsync("api/tokens", new { name = "after revoke", expires_in_days = 30 }));
        await (await asUser.PostAsJsonAsync("api/tokens", new { name = "again" })).AssertProblemAsync(HttpStatusCode.Conflict, "too_many_tokens");
        server.Time.Advance(TimeSpan.FromDays(1));
        asUser = server.NewClient((await server.LoginAsync(username, password)).Access);
        await CreatedAsync(await asUser.PostAsJsonAsync("api/tokens", new { name = "after expiry" }));
    }

    [Fact]
    public async Task A_token_made_token_never_outlives_nor_exceeds_its_parent_and_dies_with_it()
    {
        var (_, _, user) = await server.CreateUserAsync("user");
        var asUser = server.NewClient(user.Access);
        var parent = await CreatedAsync(await asUser.PostAsJsonAsync("api/tokens", new
        {
            name = "parent",
            scopes = new[] { "tokens:write", "tokens:read" },
            expires_in_days = 1,
            limits = new { requests_per_second = 0.5, burst = 3, daily_requests = 4 },
        }));
        var parentId = parent["metadata"]!["id"]!.GetValue<string>();
        var asParent = server.NewClient(parent["token"]!.GetValue<string>());

        // More than the parent has: refused, whichever limit it is.
        await (await asParent.PostAsJsonAsync("api/tokens", new { name = "faster", limits = new { requests_per_second = 1 } }))
            .AssertProblemAsync(HttpStatusCode.Forbidden, "limit_above_ceiling");

        // Asking for nothing, or for 30 days, gets at most what the parent has.
        var child = await CreatedAsync(await asParent.PostAsJsonAsync("api/tokens", new { name = "child", expires_in_days = 30 }));
        var metadata = child["metadata"]!;
        Assert.Equal(parent["metadata"]!["expires_at"]!.GetValue<DateTimeOffset>(), metadata["expires_at"]!.GetValue<DateTimeOffset>());
        Assert.True(child["clamped"]!.GetValue<bool>());
        Assert.Equal(parentId, metadata["parent_id"]!.GetValue<string>());
        Assert.Equal(0.5, metadata["limits"]!["requests_per_second"]!.GetValue<double>());
        Assert.Equal(3, metadata["limits"]!["burst"]!.GetValue<int>());
        Assert.Equal(4, metadata["limits"]!["daily_requests"]!.GetValue<long>());
        var childToken = child["token"]!.GetValue<string>();
        var childId = metadata["id"]!.GetValue<string>();
        Assert.Equal(HttpStatusCode.OK, (await server.NewClient(childToken).GetAsync("api/auth/me")).StatusCode);

        // Revoking the parent revokes the child, at once on this instance, and lists it as revoked.
        Assert.Equal(HttpStatusCode.NoContent, (await asUser.DeleteAsync($"api/tokens/{parentId}")).StatusCode);
        await (await server.NewClient(childToken).GetAsync("api/auth/me")).AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_token");
        Assert.Equal("revoked", (await (await asUser.GetAsync($"api/tokens/{childId}")).ReadJsonAsync())["state"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_deleted_users_tokens_list_as_revoked()
    {
        var (_, _, user) = await server.CreateUserAsync("user");
        var created = await CreatedAsync(await server.NewClient(user.Access).PostAsJsonAsync("api/tokens", new { name = "orphan" }));
        var id = created["metadata"]!["id"]!.GetValue<string>();

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"api/users/{user.UserId}")).StatusCode);

        var single = await (await admin.GetAsync($"api/tokens/{id}")).ReadJsonAsync();
        Assert.Equal("revoked", single["state"]!.GetValue<string>());
        var listed = await (await admin.GetAsync($"api/tokens?user_id={user.UserId}")).ReadJsonAsync();
        Assert.All(listed["items"]!.AsArray(), t => Assert.Equal("revoked", t!["state"]!.GetValue<string>()));
        var audit = await (await admin.GetAsync("api/audit?limit=200")).Content.ReadAsStringAsync();
        Assert.Contains("token.revoked", audit, StringComparison.Ordinal);
        await (await server.NewClient(created["token"]!.GetValue<string>()).GetAsync("api/auth/me")).AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_token");
    }
}

public sealed class SqliteLimitAbuseTests() : LimitAbuseTests(TestStore.Sqlite);

public sealed class TablesLimitAbuseTests() : LimitAbuseTests(TestStore.Tables);
