using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using IronAuth.Core.Maintenance;
using IronAuth.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace IronAuth.Tests.Budgets;

/// <summary>The budget API and protocol over HTTP on a real server, on both stores.</summary>
public abstract class BudgetEndpointTests(string store) : IAsyncLifetime
{
    private static readonly string CredentialKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    private TestServer server = null!;
    private HttpClient admin = null!;

    protected TestServer Server => server;

    public async Task InitializeAsync()
    {
        server = await TestServer.StartAsync(store, new Dictionary<string, string?>
        {
            ["IronAuth:Budgets:CredentialKey"] = CredentialKey,
            // Once a year (1 January): moving the clock by days never starts the scheduled run, so the tests run the job themselves.
            ["IronAuth:Maintenance:Schedule"] = "0 0 0 1 1 *",
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

    private static async Task<JsonNode> OkAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!;
    }

    private static async Task<string> NewBudgetAsync(HttpClient client, decimal allocation, string? userId = null) =>
        (await CreatedAsync(await client.PostAsJsonAsync("api/budgets", new { name = "agents", user_id = userId, allocation })))["id"]!.GetValue<string>();

    private static async Task<JsonNode> MintAsync(HttpClient client, string budgetId, string agent = "agent-7") =>
        await CreatedAsync(await client.PostAsJsonAsync($"api/budgets/{budgetId}/ic-tokens", new { agent_id = agent }));

    private static decimal Dec(JsonNode node, string name) => node[name]!.GetValue<decimal>();

    [Fact]
    public async Task An_ic_token_verifies_from_the_jwks_with_a_standard_library_and_names_its_agent_and_budget()
    {
        var budgetId = await NewBudgetAsync(admin, 100m);
        var minted = await MintAsync(admin, budgetId, "agent-7");
        var token = minted["token"]!.GetValue<string>();

        var jwks = new JsonWebKeySet(await server.Client.GetStringAsync("api/auth/jwks.json"));
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidIssuer = server.Issuer,
            ValidAudience = "ironauth-budgets",
            IssuerSigningKeys = jwks.GetSigningKeys(),
            ValidTypes = ["ic+jwt"],
            LifetimeValidator = (nbf, exp, _, _) => exp > server.Time.GetUtcNow().UtcDateTime && nbf <= server.Time.GetUtcNow().UtcDateTime,
        });

        Assert.True(result.IsValid, result.Exception?.Message);
        var jwt = (JsonWebToken)result.SecurityToken;
        Assert.Equal("ic+jwt", jwt.Typ);
        Assert.Equal("agent-7", jwt.Subject);
        Assert.Equal("agent-7", jwt.GetPayloadValue<string>("agent_id"));
        Assert.Equal(budgetId, jwt.GetPayloadValue<string>("budget_id"));
        Assert.Equal(minted["jti"]!.GetValue<string>(), jwt.Id);
        Assert.Equal(["close", "handshake", "refresh", "report"], jwt.GetPayloadValue<string[]>("permissions").Order(StringComparer.Ordinal));
        // 24 hours by default.
        Assert.Equal(server.Time.GetUtcNow().AddHours(24).ToUnixTimeSeconds(), new DateTimeOffset(jwt.ValidTo, TimeSpan.Zero).ToUnixTimeSeconds());
    }

    [Fact]
    public async Task An_ic_token_is_no_bearer_elsewhere_and_no_other_token_is_an_ic_token()
    {
        var budgetId = await NewBudgetAsync(admin, 100m);
        var token = (await MintAsync(admin, budgetId))["token"]!.GetValue<string>();

        await (await server.NewClient(token).GetAsync("api/auth/me")).AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_token");
        await (await server.NewClient(token).GetAsync($"api/budgets/{budgetId}")).AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_token");

        var access = (await server.LoginAdminAsync()).Access;
        var apiToken = (await CreatedAsync(await admin.PostAsJsonAsync("api/tokens", new { name = "svc" })))["token"]!.GetValue<string>();
        foreach (var other in new[] { access, apiToken })
        {
            await (await server.NewClient(other).PostAsJsonAsync("api/budgets/handshake", new { requested_budget = 1 }))
                .AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_ic_token");
        }

        await (await server.Client.PostAsJsonAsync("api/budgets/handshake", new { requested_budget = 1 })).AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_ic_token");
        // One changed character of the payload breaks the signature.
        var parts = token.Split('.');
        var payload = parts[1].ToCharArray();
        payload[10] = payload[10] == 'A' ? 'B' : 'A';
        var tampered = $"{parts[0]}.{new string(payload)}.{parts[2]}";
        await (await server.NewClient(tampered).PostAsJsonAsync("api/budgets/handshake", new { requested_budget = 1 }))
            .AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_ic_token");

        server.Time.Advance(TimeSpan.FromHours(25));
        await (await server.NewClient(token).PostAsJsonAsync("api/budgets/handshake", new { requested_budget = 1 }))
            .AssertProblemAsync(HttpStatusCode.Unauthorized, "ic_token_expired");
    }

    [Fact]
    public async Task Owners_manage_their_own_budgets_viewers_read_and_only_admins_change_allocations()
    {
        var (_, _, ada) = await server.CreateUserAsync("user");
        var (_, _, bob) = await server.CreateUserAsync("user");
        var (_, _, viewer) = await server.CreateUserAsync("viewer");
        var asAda = server.NewClient(ada.Access);
        var asBob = server.NewClient(bob.Access);
        var asViewer = server.NewClient(viewer.Access);

        var adas = await NewBudgetAsync(asAda, 5m);
        Assert.NotNull((await MintAsync(asAda, adas))["token"]);
        await (await asBob.PostAsJsonAsync($"api/budgets/{adas}/ic-tokens", new { agent_id = "x" })).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await asBob.GetAsync($"api/budgets/{adas}")).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await asBob.PostAsJsonAsync("api/budgets", new { name = "n", user_id = ada.UserId, allocation = 1 })).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await asAda.PatchAsJsonAsync($"api/budgets/{adas}", new { allocation = 50 })).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await asAda.PutAsJsonAsync($"api/budgets/{adas}/provider-credential", new { provider = "openai", secret = "sk-x" }))
            .AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await asViewer.PostAsJsonAsync($"api/budgets/{adas}/ic-tokens", new { agent_id = "x" })).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");

        Assert.Equal(adas, (await OkAsync(await asViewer.GetAsync($"api/budgets/{adas}")))["id"]!.GetValue<string>());
        var listed = await OkAsync(await asAda.GetAsync("api/budgets"));
        Assert.Equal([adas], listed["items"]!.AsArray().Select(b => b!["id"]!.GetValue<string>()));
        Assert.Empty((await OkAsync(await asBob.GetAsync("api/budgets")))["items"]!.AsArray());

        var patched = await OkAsync(await admin.PatchAsJsonAsync($"api/budgets/{adas}", new { allocation = 50.5m }));
        Assert.Equal(50.5m, Dec(patched, "allocation"));
        Assert.Equal(50.5m, Dec(patched, "available"));

        // An API token with budgets:read only reads.
        var reader = (await CreatedAsync(await asAda.PostAsJsonAsync("api/tokens", new { name = "r", scopes = new[] { "budgets:read" } })))["token"]!.GetValue<string>();
        await OkAsync(await server.NewClient(reader).GetAsync($"api/budgets/{adas}"));
        await (await server.NewClient(reader).DeleteAsync($"api/budgets/{adas}")).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");

        Assert.Equal(HttpStatusCode.NoContent, (await asAda.DeleteAsync($"api/budgets/{adas}")).StatusCode);
        Assert.Equal("revoked", (await OkAsync(await asAda.GetAsync($"api/budgets/{adas}")))["state"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_protocols_worked_example_over_http()
    {
        var budgetId = await NewBudgetAsync(admin, 100m);
        var runtime = server.NewClient((await MintAsync(admin, budgetId))["token"]!.GetValue<string>());

        var handshake = await OkAsync(await runtime.PostAsJsonAsync("api/budgets/handshake", new { requested_budget = 10m }));
        Assert.Equal((10m, 90m, false), (Dec(handshake, "budget_granted"), Dec(handshake, "budget_remaining"), handshake["partial"]!.GetValue<bool>()));
        Assert.Null(handshake["ip_token"]);
        var lease = handshake["lease_id"]!.GetValue<string>();

        var report = await OkAsync(await runtime.PostAsJsonAsync("api/budgets/report", new { lease_id = lease, report_id = "r-1", tokens = 1200, cost = 0.015m }));
        Assert.Equal((9.985m, 90m, false), (Dec(report, "lease_remaining"), Dec(report, "budget_remaining"), report["overrun"]!.GetValue<bool>()));

        var refresh = await OkAsync(await runtime.PostAsJsonAsync("api/budgets/refresh", new { lease_id = lease, requested_budget = 10m }));
        Assert.Equal((10m, 80m), (Dec(refresh, "budget_granted"), Dec(refresh, "budget_remaining")));
        Assert.NotEqual(lease, refresh["lease_id"]!.GetValue<string>());

        var close = await OkAsync(await runtime.PostAsync($"api/budgets/leases/{refresh["lease_id"]}/close", null));
        Assert.Equal(19.985m, Dec(close, "returned"));
        Assert.Equal(99.985m, Dec(close, "budget_remaining"));

        var budget = await OkAsync(await admin.GetAsync($"api/budgets/{budgetId}"));
        Assert.Equal((100m, 0.015m, 0m, 99.985m, 0), (Dec(budget, "allocation"), Dec(budget, "spent"), Dec(budget, "granted"), Dec(budget, "available"), budget["open_leases"]!.GetValue<int>()));
        Assert.Equal(0.015m, budget["by_agent"]!["agent-7"]!.GetValue<decimal>());
        Assert.Equal("active", budget["state"]!.GetValue<string>());

        var audit = (await admin.GetStringAsync("api/audit?limit=50"));
        foreach (var action in new[] { "budget.created", "ic_token.minted", "budget.handshake", "budget.refreshed", "budget.lease_closed" })
        {
            Assert.Contains(action, audit, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_report_sent_twice_counts_once_overruns_are_recorded_and_a_spent_budget_refuses_refresh_with_402()
    {
        var budgetId = await NewBudgetAsync(admin, 3m);
        var runtime = server.NewClient((await MintAsync(admin, budgetId))["token"]!.GetValue<string>());
        var lease = (await OkAsync(await runtime.PostAsJsonAsync("api/budgets/handshake", new { requested_budget = 2m })))["lease_id"]!.GetValue<string>();

        var first = await OkAsync(await runtime.PostAsJsonAsync("api/budgets/report", new { lease_id = lease, report_id = "same", cost = 0.5m }));
        var retry = await OkAsync(await runtime.PostAsJsonAsync("api/budgets/report", new { lease_id = lease, report_id = "same", cost = 0.5m }));
        Assert.False(first["duplicate"]!.GetValue<bool>());
        Assert.True(retry["duplicate"]!.GetValue<bool>());
        Assert.Equal(1.5m, Dec(retry, "lease_remaining"));

        var over = await OkAsync(await runtime.PostAsJsonAsync("api/budgets/report", new { lease_id = lease, report_id = "big", cost = 2.5m }));
        Assert.True(over["overrun"]!.GetValue<bool>());
        Assert.Equal(0m, Dec(over, "budget_remaining"));
        Assert.Equal(3m, Dec(await OkAsync(await admin.GetAsync($"api/budgets/{budgetId}")), "spent"));

        var refused = await runtime.PostAsJsonAsync("api/budgets/refresh", new { lease_id = lease, requested_budget = 1m });
        await refused.AssertProblemAsync(HttpStatusCode.PaymentRequired, "budget_exhausted");
        Assert.Null(refused.Headers.RetryAfter);
        await (await runtime.PostAsJsonAsync("api/budgets/handshake", new { requested_budget = 1m })).AssertProblemAsync(HttpStatusCode.PaymentRequired, "budget_exhausted");
        Assert.Equal("exhausted", (await OkAsync(await admin.GetAsync($"api/budgets/{budgetId}")))["state"]!.GetValue<string>());
    }

    [Fact]
    public async Task Revoking_the_budget_or_the_ic_token_stops_handshake_report_and_refresh_at_once()
    {
        var budgetId = await NewBudgetAsync(admin, 100m);
        var one = await MintAsync(admin, budgetId, "one");
        var two = server.NewClient((await MintAsync(admin, budgetId, "two"))["token"]!.GetValue<string>());
        var runtime = server.NewClient(one["token"]!.GetValue<string>());
        var lease = (await OkAsync(await runtime.PostAsJsonAsync("api/budgets/handshake", new { requested_budget = 10m })))["lease_id"]!.GetValue<string>();
        var otherLease = (await OkAsync(await two.PostAsJsonAsync("api/budgets/handshake", new { requested_budget = 5m })))["lease_id"]!.GetValue<string>();

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"api/budgets/{budgetId}/ic-tokens/{one["jti"]}")).StatusCode);
        await (await runtime.PostAsJsonAsync("api/budgets/handshake", new { requested_budget = 1m })).AssertProblemAsync(HttpStatusCode.Unauthorized, "ic_token_revoked");
        await (await runtime.PostAsJsonAsync("api/budgets/report", new { lease_id = lease, report_id = "a", cost = 1m })).AssertProblemAsync(HttpStatusCode.Unauthorized, "ic_token_revoked");
        await (await runtime.PostAsJsonAsync("api/budgets/refresh", new { lease_id = lease, requested_budget = 1m })).AssertProblemAsync(HttpStatusCode.Unauthorized, "ic_token_revoked");
        // Its lease's 10 came back; the other agent's 5 is still out.
        Assert.Equal(95m, Dec(await OkAsync(await admin.GetAsync($"api/budgets/{budgetId}")), "available"));
        await OkAsync(await two.PostAsJsonAsync("api/budgets/report", new { lease_id = otherLease, report_id = "b", cost = 1m }));

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"api/budgets/{budgetId}")).StatusCode);
        await (await two.PostAsJsonAsync("api/budgets/handshake", new { requested_budget = 1m })).AssertProblemAsync(HttpStatusCode.Forbidden, "budget_revoked");
        await (await two.PostAsJsonAsync("api/budgets/report", new { lease_id = otherLease, report_id = "c", cost = 1m })).AssertProblemAsync(HttpStatusCode.Forbidden, "budget_revoked");
        await (await two.PostAsJsonAsync("api/budgets/refresh", new { lease_id = otherLease, requested_budget = 1m })).AssertProblemAsync(HttpStatusCode.Forbidden, "budget_revoked");
        await (await admin.PostAsJsonAsync($"api/budgets/{budgetId}/ic-tokens", new { agent_id = "three" })).AssertProblemAsync(HttpStatusCode.Conflict, "budget_ended");
        await (await admin.DeleteAsync($"api/budgets/{budgetId}/ic-tokens/nope")).AssertProblemAsync(HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task A_suspended_or_deleted_owners_budget_does_nothing_until_the_owner_is_active_again()
    {
        var (_, _, owner) = await server.CreateUserAsync("user");
        var asOwner = server.NewClient(owner.Access);
        var budgetId = await NewBudgetAsync(asOwner, 100m);
        var runtime = server.NewClient((await MintAsync(asOwner, budgetId))["token"]!.GetValue<string>());
        var lease = (await OkAsync(await runtime.PostAsJsonAsync("api/budgets/handshake", new { requested_budget = 10m })))["lease_id"]!.GetValue<string>();

        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsJsonAsync($"api/users/{owner.UserId}/suspend", new { reason = "left" })).StatusCode);
        await (await runtime.PostAsJsonAsync("api/budgets/handshake", new { requested_budget = 1m })).AssertProblemAsync(HttpStatusCode.Unauthorized, "owner_inactive");
        await (await runtime.PostAsJsonAsync("api/budgets/report", new { lease_id = lease, report_id = "a", cost = 1m })).AssertProblemAsync(HttpStatusCode.Unauthorized, "owner_inactive");
        await (await runtime.PostAsJsonAsync("api/budgets/refresh", new { lease_id = lease, requested_budget = 1m })).AssertProblemAsync(HttpStatusCode.Unauthorized, "owner_inactive");
        await (await runtime.PostAsync($"api/budgets/leases/{lease}/close", null)).AssertProblemAsync(HttpStatusCode.Unauthorized, "owner_inactive");

        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync($"api/users/{owner.UserId}/activate", null)).StatusCode);
        await OkAsync(await runtime.PostAsJsonAsync("api/budgets/report", new { lease_id = lease, report_id = "b", cost = 1m }));

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"api/users/{owner.UserId}")).StatusCode);
        await (await runtime.PostAsJsonAsync("api/budgets/handshake", new { requested_budget = 1m })).AssertProblemAsync(HttpStatusCode.Unauthorized, "owner_inactive");
    }

    [Theory]
    [InlineData("""{"name":"n","allocation":-1}""")]
    [InlineData("""{"name":"n","allocation":0}""")]
    [InlineData("""{"name":"n","allocation":1.0000001}""")]
    [InlineData("""{"name":"n","allocation":"10"}""")]
    [InlineData("""{"name":"n","allocation":1e40}""")]
    [InlineData("""{"name":"n"}""")]
    [InlineData("""{"name":"","allocation":1}""")]
    [InlineData("""{"name":"n","allocation":1,"expires_in_hours":0}""")]
    [InlineData("""{"name":"n","allocation":1,"expires_in_hours":2147483647}""")]
    [InlineData("""{"name":"n","allocation":1,"llm_tokens":-5}""")]
    [InlineData("""{"name":"n","allocation":1""")]
    public async Task Bad_budget_bodies_are_400(string body) =>
        await (await admin.PostAsync("api/budgets", HttpAssertions.Json(body))).AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");

    [Fact]
    public async Task Bad_protocol_amounts_and_ids_are_400_and_unknown_leases_404()
    {
        var budgetId = await NewBudgetAsync(admin, 10m);
        var runtime = server.NewClient((await MintAsync(admin, budgetId))["token"]!.GetValue<string>());
        foreach (var body in new[] { """{"requested_budget":-1}""", """{"requested_budget":0.0000001}""", """{"requested_budget":null}""", "[]" })
        {
            await (await runtime.PostAsync("api/budgets/handshake", HttpAssertions.Json(body))).AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        }

        var lease = (await OkAsync(await runtime.PostAsJsonAsync("api/budgets/handshake", new { requested_budget = 1m })))["lease_id"]!.GetValue<string>();
        foreach (var body in new object[]
        {
            new { lease_id = lease, report_id = "x", cost = -0.5m },
            new { lease_id = lease, report_id = "x", cost = 0.1234567m },
            new { lease_id = lease, report_id = "has space", cost = 1m },
            new { lease_id = lease, report_id = "x", cost = 1m, tokens = -1 },
        })
        {
            await (await runtime.PostAsJsonAsync("api/budgets/report", body)).AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        }

        await (await runtime.PostAsJsonAsync("api/budgets/report", new { lease_id = lease[..^1] + (lease[^1] == 'a' ? "b" : "a"), report_id = "x", cost = 1m })).AssertProblemAsync(HttpStatusCode.NotFound, "lease_not_found");
        await (await runtime.PostAsync("api/budgets/leases/not-a-lease/close", null)).AssertProblemAsync(HttpStatusCode.NotFound, "lease_not_found");
        await OkAsync(await runtime.PostAsync($"api/budgets/leases/{lease}/close", null));
        await (await runtime.PostAsync($"api/budgets/leases/{lease}/close", null)).AssertProblemAsync(HttpStatusCode.Conflict, "lease_closed");
        await (await admin.PostAsJsonAsync($"api/budgets/{budgetId}/ic-tokens", new { agent_id = "bad agent" })).AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await admin.PostAsJsonAsync($"api/budgets/{budgetId}/ic-tokens", new { agent_id = "a", permissions = new[] { "spend" } })).AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await admin.PostAsJsonAsync($"api/budgets/{budgetId}/ic-tokens", new { agent_id = "a", expires_in_hours = int.MaxValue })).AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await OkAsync(await admin.GetAsync("api/usage?group_by=budget&from=9999-12-31&to=9999-12-31"));
        await (await admin.PatchAsJsonAsync($"api/budgets/{budgetId}", new { allocation = -3 })).AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await admin.GetAsync("api/budgets/nope")).AssertProblemAsync(HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Maintenance_returns_expired_leases_unspent_parts_and_purges_budgets_long_ended()
    {
        var budgetId = await NewBudgetAsync(admin, 10m);
        var ended = await NewBudgetAsync(admin, 1m);
        var runtime = server.NewClient((await MintAsync(admin, budgetId))["token"]!.GetValue<string>());
        var handshake = await OkAsync(await runtime.PostAsJsonAsync("api/budgets/handshake", new { requested_budget = 4m }));
        var lease = handshake["lease_id"]!.GetValue<string>();
        Assert.Equal(server.Time.GetUtcNow().AddHours(1), handshake["lease_expires_at"]!.GetValue<DateTimeOffset>());
        await OkAsync(await runtime.PostAsJsonAsync("api/budgets/report", new { lease_id = lease, report_id = "r", cost = 1m }));
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"api/budgets/{ended}")).StatusCode);
        var job = server.Services.GetRequiredService<MaintenanceJob>();

        var early = await job.RunAsync(default);
        Assert.Equal((0, 0), (early.BudgetLeasesExpired, early.BudgetsPurged));

        server.Time.Advance(TimeSpan.FromMinutes(61));
        var run = await job.RunAsync(default);
        Assert.Equal((1, 0), (run.BudgetLeasesExpired, run.BudgetsPurged));
        admin = server.NewClient((await server.LoginAdminAsync()).Access);
        var budget = await OkAsync(await admin.GetAsync($"api/budgets/{budgetId}"));
        Assert.Equal((9m, 0, 1m), (Dec(budget, "available"), budget["open_leases"]!.GetValue<int>(), Dec(budget, "spent")));
        await (await runtime.PostAsync($"api/budgets/leases/{lease}/close", null)).AssertProblemAsync(HttpStatusCode.Conflict, "lease_closed");

        // Retention (30 days by default) counts from the revocation.
        server.Time.Advance(TimeSpan.FromDays(30));
        Assert.Equal(1, (await job.RunAsync(default)).BudgetsPurged);
        admin = server.NewClient((await server.LoginAdminAsync()).Access);
        await (await admin.GetAsync($"api/budgets/{ended}")).AssertProblemAsync(HttpStatusCode.NotFound, "not_found");
        await OkAsync(await admin.GetAsync($"api/budgets/{budgetId}"));
    }

    [Fact]
    public async Task An_ic_token_without_a_permission_cannot_use_that_call()
    {
        var budgetId = await NewBudgetAsync(admin, 10m);
        var minted = await CreatedAsync(await admin.PostAsJsonAsync($"api/budgets/{budgetId}/ic-tokens", new { agent_id = "a", permissions = new[] { "handshake", "report" } }));
        var runtime = server.NewClient(minted["token"]!.GetValue<string>());
        var lease = (await OkAsync(await runtime.PostAsJsonAsync("api/budgets/handshake", new { requested_budget = 1m })))["lease_id"]!.GetValue<string>();

        await (await runtime.PostAsJsonAsync("api/budgets/refresh", new { lease_id = lease, requested_budget = 1m })).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await runtime.PostAsync($"api/budgets/leases/{lease}/close", null)).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
    }
}

public sealed class SqliteBudgetEndpointTests() : BudgetEndpointTests(TestStore.Sqlite);

public sealed class TablesBudgetEndpointTests() : BudgetEndpointTests(TestStore.Tables);
