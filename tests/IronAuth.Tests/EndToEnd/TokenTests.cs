using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using IronAuth.Tests.Support;
using Xunit.Abstractions;

namespace IronAuth.Tests.EndToEnd;

public abstract class TokenTests(ApiTarget target) : IAsyncLifetime
{
    private IApiHost server = null!;
    private HttpClient admin = null!;

    public async Task InitializeAsync()
    {
        server = await target.StartAsync(new Dictionary<string, string?>
        {
            ["IronAuth:Tokens:DefaultLifetimeDays"] = "30",
            ["IronAuth:Tokens:MaxLifetimeDays"] = "90",
        });
        admin = server.NewClient((await server.LoginAdminAsync()).Access);
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    /// <summary>The self-hosted server, for the <see cref="ServerFactAttribute"/> tests that move its clock.</summary>
    private TestServer Server => (TestServer)server;

    private async Task<(string Token, string Id, JsonNode Body)> CreateAsync(HttpClient client, object request)
    {
        var response = await client.PostAsJsonAsync("api/tokens", request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        var body = JsonNode.Parse(text)!;
        return (body["token"]!.GetValue<string>(), body["metadata"]!["id"]!.GetValue<string>(), body);
    }

    /// <summary>Moves the clock; the admin signs in again, since its 15-minute access token may have expired.</summary>
    private async Task AdvanceAsync(TimeSpan by)
    {
        Server.Time.Advance(by);
        admin = server.NewClient((await server.LoginAdminAsync()).Access);
    }

    private async Task<JsonNode> VerifyAsync(string token, object? usage = null)
    {
        var response = await admin.PostAsJsonAsync("api/tokens/verify", new { token, usage });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.ReadJsonAsync();
    }

    [Fact]
    public async Task Token_is_shown_once_and_metadata_never_carries_the_secret()
    {
        var (_, _, user) = await server.CreateUserAsync("user");
        var (token, id, body) = await CreateAsync(admin, new { name = "ci", user_id = user.UserId, scopes = new[] { "users:read" } });

        Assert.Matches("^iron_[A-Za-z0-9_-]{49}$", token);
        Assert.Equal(token[..13], body["metadata"]!["prefix"]!.GetValue<string>());
        Assert.Equal(user.UserId, body["metadata"]!["user_id"]!.GetValue<string>());
        var listed = await (await admin.GetAsync($"api/tokens?user_id={user.UserId}")).Content.ReadAsStringAsync();
        var single = await (await admin.GetAsync($"api/tokens/{id}")).Content.ReadAsStringAsync();
        var audit = await (await admin.GetAsync("api/audit?limit=200")).Content.ReadAsStringAsync();
        foreach (var text in new[] { listed, single, audit })
        {
            Assert.DoesNotContain(token, text, StringComparison.Ordinal);
            Assert.DoesNotContain(token[13..30], text, StringComparison.Ordinal);
            Assert.DoesNotContain("digest", text, StringComparison.Ordinal);
        }

        Assert.Contains(id, listed, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bearer_api_token_authenticates_as_its_owner_narrowed_by_scopes()
    {
        var (username, _, user) = await server.CreateUserAsync("user");
        var (token, id, _) = await CreateAsync(server.NewClient(user.Access), new { name = "read only", scopes = new[] { "users:read" } });
        var client = server.NewClient(token);

        var me = await client.GetAsync("api/auth/me");
        var body = await me.ReadJsonAsync();

        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        Assert.Equal(username, body["user"]!["username"]!.GetValue<string>());
        Assert.Equal("api_token", body["auth_method"]!.GetValue<string>());
        Assert.Equal(id, body["token_id"]!.GetValue<string>());
        Assert.Equal(["users:read"], body["scopes"]!.AsArray().Select(s => s!.GetValue<string>()));
        Assert.Equal("20", me.Headers.GetValues("RateLimit-Limit").Single());
        Assert.Equal("19", me.Headers.GetValues("RateLimit-Remaining").Single());
        Assert.True(me.Headers.Contains("RateLimit-Reset"));
        // users:read over itself works; tokens:write is outside the token's scopes even though the role has it.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"api/users/{user.UserId}")).StatusCode);
        await (await client.PostAsJsonAsync("api/tokens", new { name = "escalate" })).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await client.PostAsync("api/auth/logout", null)).AssertProblemAsync(HttpStatusCode.BadRequest, "not_a_session");
    }

    [Fact]
    public async Task Who_may_create_list_and_revoke_which_tokens()
    {
        var (_, _, alice) = await server.CreateUserAsync("user");
        var (_, _, bob) = await server.CreateUserAsync("user");
        var (_, _, viewer) = await server.CreateUserAsync("viewer");
        var asAlice = server.NewClient(alice.Access);
        var asViewer = server.NewClient(viewer.Access);
        var (_, bobsToken, _) = await CreateAsync(server.NewClient(bob.Access), new { name = "bob's" });
        var (_, alicesToken, _) = await CreateAsync(asAlice, new { name = "alice's" });

        // A user acts on its own tokens only.
        await (await asAlice.PostAsJsonAsync("api/tokens", new { name = "for bob", user_id = bob.UserId })).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await asAlice.GetAsync($"api/tokens/{bobsToken}")).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await asAlice.DeleteAsync($"api/tokens/{bobsToken}")).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await asAlice.GetAsync($"api/tokens?user_id={bob.UserId}")).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        var own = await (await asAlice.GetAsync("api/tokens")).ReadJsonAsync();
        Assert.Equal([alicesToken], own["items"]!.AsArray().Select(t => t!["id"]!.GetValue<string>()));

        // A viewer reads everything and creates nothing.
        await (await asViewer.PostAsJsonAsync("api/tokens", new { name = "mine" })).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        Assert.Equal(HttpStatusCode.OK, (await asViewer.GetAsync($"api/tokens/{bobsToken}")).StatusCode);
        var all = await (await asViewer.GetAsync("api/tokens?limit=200")).ReadJsonAsync();
        Assert.Contains(bobsToken, all["items"]!.AsArray().Select(t => t!["id"]!.GetValue<string>()));
        await (await asViewer.DeleteAsync($"api/tokens/{bobsToken}")).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");

        // Asking for a scope the owner's role lacks is refused.
        await (await asAlice.PostAsJsonAsync("api/tokens", new { name = "verify", scopes = new[] { "tokens:verify" } })).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await asAlice.PostAsJsonAsync("api/tokens", new { name = "bogus", scopes = new[] { "root" } })).AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await admin.GetAsync($"api/tokens/{Guid.NewGuid():N}")).AssertProblemAsync(HttpStatusCode.NotFound, "not_found");
    }

    [ServerFact("compares expiry dates with the server's clock")]
    public async Task Lifetime_defaults_and_is_clamped_to_the_maximum()
    {
        var (_, _, user) = await server.CreateUserAsync("user");
        var client = server.NewClient(user.Access);
        var now = Server.Time.GetUtcNow();

        var (_, _, byDefault) = await CreateAsync(client, new { name = "default" });
        var (_, _, clamped) = await CreateAsync(client, new { name = "long", expires_in_days = 400 });

        Assert.Equal(30, byDefault["expires_in_days"]!.GetValue<int>());
        Assert.False(byDefault["clamped"]!.GetValue<bool>());
        Assert.Equal(now.AddDays(30), byDefault["metadata"]!["expires_at"]!.GetValue<DateTimeOffset>());
        Assert.Equal(90, clamped["expires_in_days"]!.GetValue<int>());
        Assert.True(clamped["clamped"]!.GetValue<bool>());
        await (await client.PostAsJsonAsync("api/tokens", new { name = "zero", expires_in_days = 0 })).AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await client.PostAsJsonAsync("api/tokens", new { name = "" })).AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await client.PostAsJsonAsync("api/tokens", new { name = "neg", limits = new { burst = -1 } })).AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
    }

    [ServerFact("moves the server's clock past a token's expiry")]
    public async Task Every_verdict_code_over_http()
    {
        var (_, _, user) = await server.CreateUserAsync("user");
        var userClient = server.NewClient(user.Access);
        var (good, goodId, _) = await CreateAsync(userClient, new { name = "good" });

        var valid = await VerifyAsync(good);
        Assert.True(valid["valid"]!.GetValue<bool>());
        Assert.Null(valid["code"]);
        Assert.Equal(goodId, valid["token_id"]!.GetValue<string>());
        Assert.Equal(user.UserId, valid["user_id"]!.GetValue<string>());
        Assert.Equal(19, valid["ratelimit"]!["remaining"]!.GetValue<int>());
        Assert.Equal(1, valid["quota"]!["daily_requests"]!["used"]!.GetValue<long>());

        Assert.Equal("malformed", (await VerifyAsync(good[..^1] + (good[^1] == 'A' ? 'B' : 'A')))["code"]!.GetValue<string>());
        Assert.Equal("not_found", (await VerifyAsync(IronAuth.Core.Tokens.ApiTokenFormat.New()))["code"]!.GetValue<string>());

        var (revoked, revokedId, _) = await CreateAsync(userClient, new { name = "revoked" });
        Assert.Equal(HttpStatusCode.NoContent, (await userClient.DeleteAsync($"api/tokens/{revokedId}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await userClient.DeleteAsync($"api/tokens/{revokedId}")).StatusCode);
        Assert.Equal("revoked", (await VerifyAsync(revoked))["code"]!.GetValue<string>());
        await (await server.NewClient(revoked).GetAsync("api/auth/me")).AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_token");

        var (limited, _, _) = await CreateAsync(userClient, new { name = "limited", limits = new { requests_per_second = 0.001, burst = 1 } });
        Assert.True((await VerifyAsync(limited))["valid"]!.GetValue<bool>());
        var rateLimited = await VerifyAsync(limited);
        Assert.Equal("rate_limited", rateLimited["code"]!.GetValue<string>());
        Assert.Equal(0, rateLimited["ratelimit"]!["remaining"]!.GetValue<int>());

        var (capped, _, _) = await CreateAsync(userClient, new { name = "capped", limits = new { daily_requests = 1 } });
        Assert.True((await VerifyAsync(capped))["valid"]!.GetValue<bool>());
        var overQuota = await VerifyAsync(capped);
        Assert.Equal("quota_exceeded", overQuota["code"]!.GetValue<string>());
        Assert.Equal("daily_requests", overQuota["quota"]!["exhausted"]!.GetValue<string>());

        var (expiring, _, _) = await CreateAsync(userClient, new { name = "expiring", expires_in_days = 1 });
        await AdvanceAsync(TimeSpan.FromDays(1));
        Assert.Equal("expired", (await VerifyAsync(expiring))["code"]!.GetValue<string>());

        var (_, _, owner) = await server.CreateUserAsync("user");
        var (ownersToken, _, _) = await CreateAsync(server.NewClient(owner.Access), new { name = "owner's" });
        await admin.PostAsJsonAsync($"api/users/{owner.UserId}/suspend", new { reason = "test" });
        Assert.Equal("owner_inactive", (await VerifyAsync(ownersToken))["code"]!.GetValue<string>());
        await (await server.NewClient(ownersToken).GetAsync("api/auth/me")).AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_token");
    }

    [ServerFact("moves the server's clock to refill the bucket")]
    public async Task Rate_limited_requests_get_429_with_retry_after_and_headers()
    {
        var (token, _, _) = await CreateAsync(admin, new { name = "slow", limits = new { requests_per_second = 0.5, burst = 2 } });
        var client = server.NewClient(token);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("api/auth/me")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("api/auth/me")).StatusCode);

        var limited = await client.GetAsync("api/auth/me");

        await limited.AssertProblemAsync(HttpStatusCode.TooManyRequests, "rate_limited");
        Assert.Equal(TimeSpan.FromSeconds(2), limited.Headers.RetryAfter?.Delta);
        Assert.Equal("0", limited.Headers.GetValues("RateLimit-Remaining").Single());
        Assert.Equal("4", limited.Headers.GetValues("RateLimit-Reset").Single());

        Server.Time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("api/auth/me")).StatusCode);
    }

    [Fact]
    public async Task Fifty_concurrent_requests_on_a_burst_of_five_admit_exactly_five()
    {
        var (token, _, _) = await CreateAsync(admin, new { name = "burst", limits = new { requests_per_second = 0.001, burst = 5 } });

        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => server.NewClient(token).GetAsync("api/auth/me")));

        Assert.Equal(5, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        var limited = responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.Equal(45, limited.Count);
        Assert.All(limited, r => Assert.NotNull(r.Headers.RetryAfter));
    }

    [ServerFact("moves the server's clock past UTC midnight")]
    public async Task A_daily_request_quota_admits_exactly_n_under_concurrency_and_resets_at_utc_midnight()
    {
        var (token, id, _) = await CreateAsync(admin, new { name = "quota", limits = new { daily_requests = 10, burst = 1000 } });

        var verdicts = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => VerifyAsync(token)));

        Assert.Equal(10, verdicts.Count(v => v["valid"]!.GetValue<bool>()));
        Assert.All(verdicts.Where(v => !v["valid"]!.GetValue<bool>()), v => Assert.Equal("quota_exceeded", v["code"]!.GetValue<string>()));
        var blocked = await server.NewClient(token).GetAsync("api/auth/me");
        await blocked.AssertProblemAsync(HttpStatusCode.TooManyRequests, "quota_exceeded");
        Assert.Equal(TimeSpan.FromHours(15), blocked.Headers.RetryAfter?.Delta);

        await AdvanceAsync(TimeSpan.FromHours(15));
        Assert.True((await VerifyAsync(token))["valid"]!.GetValue<bool>());
        var history = await (await admin.GetAsync($"api/tokens/{id}/usage?days=2")).ReadJsonAsync();
        Assert.Equal([1L, 10L], history.AsArray().Select(d => d!["requests"]!.GetValue<long>()));
    }

    [Fact]
    public async Task Usage_sent_with_verify_and_after_the_fact_is_metered_exactly()
    {
        var (token, id, _) = await CreateAsync(admin, new { name = "llm", limits = new { daily_tokens = 1000, daily_cost = 0.3m } });

        var first = await VerifyAsync(token, new { tokens = 400, cost = 0.1m });
        Assert.Equal(400, first["quota"]!["daily_tokens"]!["used"]!.GetValue<long>());
        Assert.Equal(600, first["quota"]!["daily_tokens"]!["remaining"]!.GetValue<long>());
        var tooBig = await VerifyAsync(token, new { tokens = 601 });
        Assert.Equal(("quota_exceeded", "daily_tokens"), (tooBig["code"]!.GetValue<string>(), tooBig["quota"]!["exhausted"]!.GetValue<string>()));

        var recorded = await admin.PostAsJsonAsync($"api/tokens/{id}/usage", new { tokens = 100, cost = 0.2m });
        var body = await recorded.ReadJsonAsync();
        Assert.Equal(HttpStatusCode.OK, recorded.StatusCode);
        Assert.True(body["over_quota"]!.GetValue<bool>());
        Assert.Equal("daily_cost", body["quota"]!["exhausted"]!.GetValue<string>());
        Assert.Equal(0.3m, body["quota"]!["daily_cost"]!["used"]!.GetValue<decimal>());

        var history = await (await admin.GetAsync($"api/tokens/{id}/usage?days=1")).ReadJsonAsync();
        var today = history.AsArray().Single()!;
        Assert.Equal((1L, 500L, 0.3m), (today["requests"]!.GetValue<long>(), today["tokens"]!.GetValue<long>(), today["cost"]!.GetValue<decimal>()));
        Assert.Equal("quota_exceeded", (await VerifyAsync(token))["code"]!.GetValue<string>());
        await (await admin.PostAsJsonAsync($"api/tokens/{id}/usage", new { cost = 0.0000001m })).AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await admin.GetAsync($"api/tokens/{id}/usage?days=0")).AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
    }

    [Fact]
    public async Task Verify_needs_the_tokens_verify_permission()
    {
        var (_, _, user) = await server.CreateUserAsync("user");
        var (token, id, _) = await CreateAsync(server.NewClient(user.Access), new { name = "mine" });
        var asUser = server.NewClient(user.Access);

        await (await asUser.PostAsJsonAsync("api/tokens/verify", new { token })).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await asUser.PostAsJsonAsync($"api/tokens/{id}/usage", new { tokens = 1 })).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");

        // An admin can hand a gateway a token scoped to verification only.
        var (gateway, _, _) = await CreateAsync(admin, new { name = "gateway", scopes = new[] { "tokens:verify" }, limits = new { burst = 1000 } });
        var verdict = await (await server.NewClient(gateway).PostAsJsonAsync("api/tokens/verify", new { token })).ReadJsonAsync();
        Assert.True(verdict["valid"]!.GetValue<bool>());
        await (await server.NewClient(gateway).GetAsync("api/users")).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task A_gateway_token_is_metered_with_the_token_it_verifies_and_a_refused_gateway_spends_nothing_of_it()
    {
        // Issue 17: the gateway's own use and the verified token's are one metering step.
        var (gateway, gatewayId, _) = await CreateAsync(admin, new { name = "gateway", scopes = new[] { "tokens:verify" }, limits = new { burst = 3, requests_per_second = 0.001 } });
        var (token, id, _) = await CreateAsync(admin, new { name = "user" });
        var asGateway = server.NewClient(gateway);

        var valid = await (await asGateway.PostAsJsonAsync("api/tokens/verify", new { token, usage = new { tokens = 10 } })).ReadJsonAsync();
        Assert.Equal((true, id), (valid["valid"]!.GetValue<bool>(), valid["token_id"]!.GetValue<string>()));
        var unknown = await (await asGateway.PostAsJsonAsync("api/tokens/verify", new { token = token[..^4] + "AAAA" })).ReadJsonAsync();
        Assert.False(unknown["valid"]!.GetValue<bool>());
        var malformed = await asGateway.PostAsJsonAsync("api/tokens/verify", new { token = 42 });
        await malformed.AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");

        // Three requests took the gateway's burst of three; the fourth is the gateway's 429, and the user's token is untouched.
        var refused = await asGateway.PostAsJsonAsync("api/tokens/verify", new { token, usage = new { tokens = 10 } });
        await refused.AssertProblemAsync(HttpStatusCode.TooManyRequests, "rate_limited");
        var usage = await (await admin.GetAsync($"api/tokens/{id}/usage")).ReadJsonAsync();
        Assert.Equal((1L, 10L), (usage[0]!["requests"]!.GetValue<long>(), usage[0]!["tokens"]!.GetValue<long>()));
        var gatewayUsage = await (await admin.GetAsync($"api/tokens/{gatewayId}/usage")).ReadJsonAsync();
        Assert.Equal(3L, gatewayUsage[0]!["requests"]!.GetValue<long>());
    }

    [ServerFact("moves the server's clock within and past the coalescing minute")]
    public async Task Last_used_is_recorded_but_coalesced()
    {
        var (token, id, _) = await CreateAsync(admin, new { name = "touch" });
        Assert.Null((await (await admin.GetAsync($"api/tokens/{id}")).ReadJsonAsync())["last_used_at"]);

        await VerifyAsync(token);
        var first = (await (await admin.GetAsync($"api/tokens/{id}")).ReadJsonAsync())["last_used_at"]!.GetValue<DateTimeOffset>();
        Server.Time.Advance(TimeSpan.FromSeconds(10));
        await VerifyAsync(token);
        var coalesced = (await (await admin.GetAsync($"api/tokens/{id}")).ReadJsonAsync())["last_used_at"]!.GetValue<DateTimeOffset>();
        Server.Time.Advance(TimeSpan.FromMinutes(1));
        await VerifyAsync(token);
        var later = (await (await admin.GetAsync($"api/tokens/{id}")).ReadJsonAsync())["last_used_at"]!.GetValue<DateTimeOffset>();

        Assert.Equal(first, coalesced);
        Assert.Equal(first.AddSeconds(70), later);
    }
}

public sealed class SqliteTokenTests() : TokenTests(TestStore.Sqlite);

public sealed class TablesTokenTests() : TokenTests(TestStore.Tables);

public sealed class FunctionsSqliteTokenTests(ITestOutputHelper output) : TokenTests(ApiTarget.FunctionsOn(TestStore.Sqlite, output)), IRunsOnFunctions;

public sealed class FunctionsTablesTokenTests(ITestOutputHelper output) : TokenTests(ApiTarget.FunctionsOn(TestStore.Tables, output)), IRunsOnFunctions;

public abstract class TokenPolicyTests(string store)
{
    [Fact]
    public async Task One_active_per_user_revokes_the_others_when_a_token_is_created()
    {
        await using var server = await TestServer.StartAsync(store, new Dictionary<string, string?> { ["IronAuth:Tokens:OneActivePerUser"] = "true" });
        var (_, _, user) = await server.CreateUserAsync("user");
        var client = server.NewClient(user.Access);
        var first = (await (await client.PostAsJsonAsync("api/tokens", new { name = "first" })).ReadJsonAsync())["token"]!.GetValue<string>();

        var second = await (await client.PostAsJsonAsync("api/tokens", new { name = "second" })).ReadJsonAsync();

        Assert.Equal(1, second["revoked_others"]!.GetValue<int>());
        await (await server.NewClient(first).GetAsync("api/auth/me")).AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_token");
        Assert.Equal(HttpStatusCode.OK, (await server.NewClient(second["token"]!.GetValue<string>()).GetAsync("api/auth/me")).StatusCode);

        // A token making a token for its own owner would revoke itself, and with it the new token: refused.
        await (await server.NewClient(second["token"]!.GetValue<string>()).PostAsJsonAsync("api/tokens", new { name = "third" }))
            .AssertProblemAsync(HttpStatusCode.Conflict, "one_active_per_user");
    }

    [Fact]
    public async Task Revocation_through_another_instance_takes_effect_within_the_cache_ttl()
    {
        using var shared = await TestStore.CreateAsync(store);
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero));
        var ttl = new Dictionary<string, string?> { ["IronAuth:Tokens:CacheTtl"] = "00:00:02" };
        await using var first = await TestServer.StartAsync(shared, ttl, clock);
        await using var second = await TestServer.StartAsync(shared, ttl, clock);
        var admin = first.NewClient((await first.LoginAdminAsync()).Access);
        var created = await (await admin.PostAsJsonAsync("api/tokens", new { name = "cached" })).ReadJsonAsync();
        var token = created["token"]!.GetValue<string>();
        var id = created["metadata"]!["id"]!.GetValue<string>();
        Assert.Equal(HttpStatusCode.OK, (await second.NewClient(token).GetAsync("api/auth/me")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await first.NewClient(token).GetAsync("api/auth/me")).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"api/tokens/{id}")).StatusCode);

        // The revoking instance refuses at once; the other one still has the token cached, for at most the TTL.
        Assert.Equal(HttpStatusCode.Unauthorized, (await first.NewClient(token).GetAsync("api/auth/me")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await second.NewClient(token).GetAsync("api/auth/me")).StatusCode);
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(HttpStatusCode.Unauthorized, (await second.NewClient(token).GetAsync("api/auth/me")).StatusCode);
    }

    [Fact]
    public async Task Two_server_processes_on_one_store_admit_exactly_the_burst_between_them()
    {
        // Two real ironauth processes on one SQLite file, or on one Azurite: the bucket is exact across them.
        using var shared = await TestStore.CreateAsync(store);
        var settings = ServerProcess.SettingsFor(shared);

        await using var first = await ServerProcess.StartAsync(settings);
        await using var second = await ServerProcess.StartAsync(settings);
        var admin = first.NewClient(await first.LoginAdminAsync());
        // Refill of one token per 1,000 s (the slowest rate allowed): nothing refills during the test on the machines' real clock.
        var created = await (await admin.PostAsJsonAsync("api/tokens", new { name = "shared", limits = new { requests_per_second = 0.001, burst = 5 } })).ReadJsonAsync();
        var token = created["token"]!.GetValue<string>();

        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => (i % 2 == 0 ? first : second).NewClient(token).GetAsync("api/auth/me")));

        Assert.Equal(5, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(45, responses.Count(r => r.StatusCode == HttpStatusCode.TooManyRequests));
        Assert.All(responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests), r => Assert.NotNull(r.Headers.RetryAfter));
    }
}

public sealed class SqliteTokenPolicyTests() : TokenPolicyTests(TestStore.Sqlite);

public sealed class TablesTokenPolicyTests() : TokenPolicyTests(TestStore.Tables);
