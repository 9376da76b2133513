using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using IronAuth.Api;
using IronAuth.Core.Users;
using IronAuth.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace IronAuth.Tests.EndToEnd;

public abstract class AuditAndServiceTests(string store) : IAsyncLifetime
{
    private TestServer server = null!;
    private HttpClient admin = null!;

    public async Task InitializeAsync()
    {
        server = await TestServer.StartAsync(store, new Dictionary<string, string?> { ["IronAuth:Cors:AllowedOrigins:0"] = "https://app.example.com" });
        admin = server.NewClient((await server.LoginAdminAsync()).Access);
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    protected TestServer Server => server;

    private static async Task<List<JsonNode>> EntriesAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return [.. (await response.ReadJsonAsync())["items"]!.AsArray().Select(e => e!)];
    }

    [Fact]
    public async Task State_changes_and_logins_are_audited_newest_first_without_secrets()
    {
        var (username, password, user) = await server.CreateUserAsync("user");
        await server.Client.PostAsJsonAsync("api/auth/login", new { username, password = "wrong-password-here" });
        await admin.PostAsJsonAsync($"api/users/{user.UserId}/suspend", new { reason = "audit test" });

        var entries = await EntriesAsync(await admin.GetAsync($"api/users/{user.UserId}/audit"));

        var actions = entries.Select(e => e["action"]!.GetValue<string>()).ToList();
        Assert.Equal(["user.suspended", "login.failed", "login.succeeded", "user.created"], actions);
        var suspended = entries[0];
        Assert.Equal(server.AdminUsername, suspended["actor_name"]!.GetValue<string>());
        Assert.Equal(user.UserId, suspended["target_id"]!.GetValue<string>());
        Assert.Equal("audit test", suspended["details"]!["reason"]!.GetValue<string>());
        Assert.Equal("127.0.0.1", suspended["client_ip"]!.GetValue<string>());
        var raw = await (await admin.GetAsync("api/audit?limit=200")).Content.ReadAsStringAsync();
        Assert.DoesNotContain(password, raw, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-password-here", raw, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failed_sign_in_for_an_unknown_name_stores_a_keyed_hash_never_the_name()
    {
        // Someone typed their password into the username field (it is even a valid username).
        var typedPassword = "Hunter2-" + Guid.NewGuid().ToString("N")[..12];
        var invalidName = "my secret passphrase " + Guid.NewGuid().ToString("N")[..8];
        foreach (var name in new[] { typedPassword, typedPassword.ToUpperInvariant(), invalidName })
        {
            await (await server.Client.PostAsJsonAsync("api/auth/login", new { username = name, password = "whatever-password" }))
                .AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_credentials");
        }

        var raw = await (await admin.GetAsync("api/audit?limit=200")).Content.ReadAsStringAsync();
        Assert.DoesNotContain(typedPassword, raw, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(invalidName, raw, StringComparison.OrdinalIgnoreCase);
        var failures = (await EntriesAsync(await admin.GetAsync("api/audit?limit=200")))
            .Where(e => e["action"]!.GetValue<string>() == "login.failed" && e["target_id"] is null)
            .Take(3)
            .Select(e => e["details"]!)
            .ToList();
        Assert.All(failures, details => Assert.Null(details["username"]));
        var pseudonyms = failures.Select(details => details["username_hmac"]!.GetValue<string>()).ToList();
        Assert.All(pseudonyms, p => Assert.Matches("^[0-9a-f]{32}$", p));
        // Newest first: the invalid name, then the same valid name twice (usernames are case-insensitive).
        Assert.Equal(pseudonyms[1], pseudonyms[2]);
        Assert.NotEqual(pseudonyms[0], pseudonyms[1]);
    }

    [Fact]
    public async Task Audit_is_paged_and_readable_per_role()
    {
        var (_, _, user) = await server.CreateUserAsync("user");
        var (_, _, viewer) = await server.CreateUserAsync("viewer");
        var asUser = server.NewClient(user.Access);

        var first = await (await admin.GetAsync("api/audit?limit=2")).ReadJsonAsync();
        var cursor = first["next_cursor"]!.GetValue<string>();
        var second = await (await admin.GetAsync($"api/audit?limit=2&cursor={cursor}")).ReadJsonAsync();
        var firstIds = first["items"]!.AsArray().Select(e => e!["id"]!.GetValue<string>());
        var secondIds = second["items"]!.AsArray().Select(e => e!["id"]!.GetValue<string>());
        Assert.Empty(firstIds.Intersect(secondIds));

        var own = await EntriesAsync(await asUser.GetAsync("api/audit"));
        Assert.NotEmpty(own);
        Assert.All(own, e => Assert.True(e["actor_id"]?.GetValue<string>() == user.UserId || e["target_id"]?.GetValue<string>() == user.UserId));
        Assert.NotEmpty(await EntriesAsync(await asUser.GetAsync($"api/users/{user.UserId}/audit")));
        await (await asUser.GetAsync($"api/users/{viewer.UserId}/audit")).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        Assert.NotEmpty(await EntriesAsync(await server.NewClient(viewer.Access).GetAsync($"api/users/{user.UserId}/audit")));
    }

    [Fact]
    public async Task Health_reports_the_store_and_version()
    {
        var body = await (await server.Client.GetAsync("api/health")).ReadJsonAsync();
        Assert.Equal("ok", body["status"]!.GetValue<string>());
        Assert.Equal(store, body["store"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(body["version"]!.GetValue<string>()));
    }

    [Fact]
    public async Task OpenApi_document_describes_every_route_and_its_problems()
    {
        var document = await (await server.Client.GetAsync("api/openapi.json")).ReadJsonAsync();
        var paths = document["paths"]!.AsObject();

        foreach (var route in IronAuthRoutes.All)
        {
            var operation = paths["/api/" + route.Route]?[route.Method.ToLowerInvariant()];
            Assert.True(operation is not null, $"{route.Method} /api/{route.Route} is not in the OpenAPI document");
            Assert.Equal(route.Name, operation!["operationId"]!.GetValue<string>());
        }

        var login = paths["/api/auth/login"]!["post"]!;
        Assert.NotNull(login["requestBody"]);
        Assert.NotNull(login["responses"]!["401"]!["content"]!["application/problem+json"]);
        var schemas = document["components"]!["schemas"]!.AsObject();
        Assert.Contains("access_token", schemas["TokenResponse"]!["properties"]!.AsObject().Select(p => p.Key));
    }

    [Fact]
    public async Task Cors_allows_only_configured_origins()
    {
        async Task<HttpResponseMessage> Preflight(string origin)
        {
            var request = new HttpRequestMessage(HttpMethod.Options, "api/auth/login");
            request.Headers.Add("Origin", origin);
            request.Headers.Add("Access-Control-Request-Method", "POST");
            return await server.Client.SendAsync(request);
        }

        var allowed = await Preflight("https://app.example.com");
        Assert.Equal("https://app.example.com", allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());
        var other = await Preflight("https://evil.example.com");
        Assert.False(other.Headers.Contains("Access-Control-Allow-Origin"));
    }
}

public sealed class SqliteAuditAndServiceTests() : AuditAndServiceTests(TestStore.Sqlite)
{
    [Fact]
    public async Task The_sqlite_schema_refuses_to_change_or_delete_audit_entries()
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Server.Store.DatabasePath}");
        await connection.OpenAsync();
        foreach (var sql in new[] { "UPDATE audit_log SET action = 'x';", "DELETE FROM audit_log;" })
        {
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            var error = await Assert.ThrowsAsync<Microsoft.Data.Sqlite.SqliteException>(() => command.ExecuteNonQueryAsync());
            Assert.Contains("append-only", error.Message, StringComparison.Ordinal);
        }
    }
}

public sealed class TablesAuditAndServiceTests() : AuditAndServiceTests(TestStore.Tables);

public abstract class StartupTests(string store)
{
    [Fact]
    public async Task Bootstrap_admin_is_created_once_and_never_over_existing_users()
    {
        using var shared = await TestStore.CreateAsync(store);
        await using (var first = await TestServer.StartAsync(shared))
        {
            await first.LoginAdminAsync();
        }

        // A second start with another bootstrap name finds users and creates nobody; the schema migration is a no-op.
        await using var second = await TestServer.StartAsync(shared);
        var users = second.Services.GetRequiredService<IUserStore>();
        Assert.Null(await users.FindByUsernameAsync(second.AdminUsername.ToLowerInvariant(), default));
        var page = await users.ListAsync(new UserQuery(null, null, null, 10), default);
        Assert.Single(page.Items);
    }

    [Fact]
    public async Task Bad_configuration_fails_start_with_a_message_naming_the_setting()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => TestServer.StartAsync(store, new Dictionary<string, string?>
        {
            ["IronAuth:Passwords:BcryptWorkFactor"] = "99",
            ["IronAuth:Jwt:SigningKey"] = "not a pem",
        }));
        Assert.Contains("IronAuth:Passwords:BcryptWorkFactor", error.Message, StringComparison.Ordinal);
        Assert.Contains("IronAuth:Jwt:SigningKey", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_weak_bootstrap_password_fails_start()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => TestServer.StartAsync(store, new Dictionary<string, string?>
        {
            ["IronAuth:Bootstrap:AdminPassword"] = "short",
        }));
        Assert.Contains("IronAuth:Bootstrap", error.Message, StringComparison.Ordinal);
    }
}

public sealed class SqliteStartupTests() : StartupTests(TestStore.Sqlite);

public sealed class TablesStartupTests() : StartupTests(TestStore.Tables);
