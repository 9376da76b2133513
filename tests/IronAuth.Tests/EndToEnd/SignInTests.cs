using System.Net;
using System.Net.Http.Json;
using IronAuth.Core.Users;
using IronAuth.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace IronAuth.Tests.EndToEnd;

public abstract class SignInTests(ApiTarget target) : IAsyncLifetime
{
    private IApiHost server = null!;

    /// <summary>The self-hosted server, for the <see cref="ServerFactAttribute"/> tests that reach into its process.</summary>
    private TestServer Server => (TestServer)server;

    public async Task InitializeAsync() => server = await target.StartAsync();

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task Login_returns_rfc6749_token_pair_and_the_user()
    {
        var response = await server.Client.PostAsJsonAsync("api/auth/login", new { username = server.AdminUsername, password = TestServer.AdminPassword });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(response.Headers.CacheControl?.NoStore);
        var body = await response.ReadJsonAsync();
        Assert.Equal("Bearer", body["token_type"]!.GetValue<string>());
        // Whole seconds left when the response is made: the full lifetime on the server's stopped clock, a few less
        // where real time passes between issuing and answering (the Functions worker, on a busy machine).
        Assert.InRange(body["expires_in"]!.GetValue<long>(), 15 * 60 - 5, 15 * 60);
        Assert.InRange(body["refresh_expires_in"]!.GetValue<long>(), 30 * 24 * 3600 - 5, 30 * 24 * 3600);
        Assert.Equal(3, body["access_token"]!.GetValue<string>().Split('.').Length);
        Assert.Equal(server.AdminUsername, body["user"]!["username"]!.GetValue<string>());
        Assert.Equal("admin", body["user"]!["role"]!.GetValue<string>());
        Assert.Null(body["user"]!["password_hash"]);
    }

    [Fact]
    public async Task Me_describes_the_session_caller()
    {
        var (username, _, tokens) = await server.CreateUserAsync("user");

        var body = await (await server.NewClient(tokens.Access).GetAsync("api/auth/me")).ReadJsonAsync();

        Assert.Equal(username, body["user"]!["username"]!.GetValue<string>());
        Assert.Equal("user", body["role"]!.GetValue<string>());
        Assert.Equal("session", body["auth_method"]!.GetValue<string>());
        var scopes = body["scopes"]!.AsArray().Select(s => s!.GetValue<string>()).ToHashSet();
        Assert.Equal(Permissions.Of(Role.User).ToHashSet(), scopes);
        Assert.DoesNotContain(Permissions.TokensVerify, scopes);
    }

    [Fact]
    public async Task Unknown_user_and_wrong_password_get_the_same_401_body()
    {
        var unknown = await server.Client.PostAsJsonAsync("api/auth/login", new { username = "nobody-" + Guid.NewGuid().ToString("N")[..8], password = "whatever-password" });
        var wrong = await server.Client.PostAsJsonAsync("api/auth/login", new { username = server.AdminUsername, password = "not-the-password" });

        var a = await unknown.AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_credentials");
        var b = await wrong.AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_credentials");
        Assert.Equal(a["detail"]!.GetValue<string>(), b["detail"]!.GetValue<string>());
        Assert.Equal(a["title"]!.GetValue<string>(), b["title"]!.GetValue<string>());
    }

    [Fact]
    public async Task Refresh_rotates_and_the_old_refresh_token_stops_working()
    {
        var tokens = await server.LoginAdminAsync();

        var first = await server.Client.PostAsJsonAsync("api/auth/refresh", new { refresh_token = tokens.Refresh });
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var rotated = await first.ReadJsonAsync();
        var newRefresh = rotated["refresh_token"]!.GetValue<string>();
        Assert.NotEqual(tokens.Refresh, newRefresh);

        var me = await server.NewClient(rotated["access_token"]!.GetValue<string>()).GetAsync("api/auth/me");
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);

        var second = await server.Client.PostAsJsonAsync("api/auth/refresh", new { refresh_token = newRefresh });
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
    }

    [Fact]
    public async Task Refresh_with_spent_token_revokes_the_session()
    {
        var tokens = await server.LoginAdminAsync();
        var rotated = await (await server.Client.PostAsJsonAsync("api/auth/refresh", new { refresh_token = tokens.Refresh })).ReadJsonAsync();
        var newAccess = rotated["access_token"]!.GetValue<string>();
        var newRefresh = rotated["refresh_token"]!.GetValue<string>();
        // Authenticated once each, so session and user are in the credential cache: revocation must evict them.
        Assert.Equal(HttpStatusCode.OK, (await server.NewClient(newAccess).GetAsync("api/auth/me")).StatusCode);

        var reuse = await server.Client.PostAsJsonAsync("api/auth/refresh", new { refresh_token = tokens.Refresh });

        await reuse.AssertProblemAsync(HttpStatusCode.Unauthorized, "token_reuse_detected");
        // The whole family is gone: the token rotated from it and the access tokens of the session.
        var next = await server.Client.PostAsJsonAsync("api/auth/refresh", new { refresh_token = newRefresh });
        Assert.Equal(HttpStatusCode.Unauthorized, next.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.NewClient(newAccess).GetAsync("api/auth/me")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.NewClient(tokens.Access).GetAsync("api/auth/me")).StatusCode);
    }

    [Fact]
    public async Task Concurrent_refreshes_of_one_token_let_exactly_one_succeed()
    {
        var tokens = await server.LoginAdminAsync();

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ =>
            server.NewClient().PostAsJsonAsync("api/auth/refresh", new { refresh_token = tokens.Refresh })));

        Assert.Equal(1, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(19, responses.Count(r => r.StatusCode == HttpStatusCode.Unauthorized));
    }

    [Fact]
    public async Task Malformed_refresh_token_is_a_401_problem()
    {
        var response = await server.Client.PostAsJsonAsync("api/auth/refresh", new { refresh_token = "nonsense" });
        await response.AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_refresh_token");
    }

    [ServerFact("moves the server's clock past the refresh token's lifetime")]
    public async Task Refresh_token_expires_after_its_lifetime()
    {
        var tokens = await server.LoginAdminAsync();
        Server.Time.Advance(TimeSpan.FromDays(30) + TimeSpan.FromSeconds(1));

        var response = await server.Client.PostAsJsonAsync("api/auth/refresh", new { refresh_token = tokens.Refresh });

        await response.AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_refresh_token");
    }

    [ServerFact("moves the server's clock past the access token's lifetime")]
    public async Task Access_token_expires_after_its_lifetime()
    {
        var tokens = await server.LoginAdminAsync();
        var client = server.NewClient(tokens.Access);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("api/auth/me")).StatusCode);

        Server.Time.Advance(TimeSpan.FromMinutes(16));

        var response = await client.GetAsync("api/auth/me");
        await response.AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_token");
        Assert.Contains("invalid_token", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Logout_rejects_the_old_access_token_and_refresh_token()
    {
        var tokens = await server.LoginAdminAsync();
        var client = server.NewClient(tokens.Access);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("api/auth/me")).StatusCode);

        var logout = await client.PostAsync("api/auth/logout", null);

        Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        await (await client.GetAsync("api/auth/me")).AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_token");
        await (await server.Client.PostAsJsonAsync("api/auth/refresh", new { refresh_token = tokens.Refresh }))
            .AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_refresh_token");
    }

    [ServerFact("two servers on one store share one fake clock")]
    public async Task Logout_through_another_instance_takes_effect_within_the_cache_ttl()
    {
        using var shared = await TestStore.CreateAsync(target.Store);
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero));
        var ttl = new Dictionary<string, string?> { ["IronAuth:Tokens:CacheTtl"] = "00:00:02" };
        await using var first = await TestServer.StartAsync(shared, ttl, clock);
        await using var second = await TestServer.StartAsync(shared, ttl, clock);
        var tokens = await first.LoginAdminAsync();
        Assert.Equal(HttpStatusCode.OK, (await first.NewClient(tokens.Access).GetAsync("api/auth/me")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await second.NewClient(tokens.Access).GetAsync("api/auth/me")).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await first.NewClient(tokens.Access).PostAsync("api/auth/logout", null)).StatusCode);

        // The instance that logged out refuses at once; the other one has the session cached, for at most the TTL.
        Assert.Equal(HttpStatusCode.Unauthorized, (await first.NewClient(tokens.Access).GetAsync("api/auth/me")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await second.NewClient(tokens.Access).GetAsync("api/auth/me")).StatusCode);
        clock.Advance(TimeSpan.FromSeconds(2));
        await (await second.NewClient(tokens.Access).GetAsync("api/auth/me")).AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_token");
    }

    [Fact]
    public async Task Missing_or_garbage_bearer_is_a_401_problem()
    {
        await (await server.Client.GetAsync("api/auth/me")).AssertProblemAsync(HttpStatusCode.Unauthorized, "missing_credentials");
        await (await server.NewClient("not.a.jwt").GetAsync("api/auth/me")).AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_token");
    }

    [Fact]
    public async Task Suspended_user_can_neither_log_in_nor_refresh_and_its_sessions_end()
    {
        var (username, password, tokens) = await server.CreateUserAsync("user");
        var admin = server.NewClient((await server.LoginAdminAsync()).Access);
        Assert.Equal(HttpStatusCode.OK, (await server.NewClient(tokens.Access).GetAsync("api/auth/me")).StatusCode);

        var suspend = await admin.PostAsJsonAsync($"api/users/{tokens.UserId}/suspend", new { reason = "testing" });
        Assert.Equal(HttpStatusCode.OK, suspend.StatusCode);
        Assert.Equal("suspended", (await suspend.ReadJsonAsync())["status"]!.GetValue<string>());

        await (await server.NewClient(tokens.Access).GetAsync("api/auth/me")).AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_token");
        await (await server.Client.PostAsJsonAsync("api/auth/refresh", new { refresh_token = tokens.Refresh }))
            .AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_refresh_token");
        await (await server.Client.PostAsJsonAsync("api/auth/login", new { username, password }))
            .AssertProblemAsync(HttpStatusCode.Forbidden, "account_suspended");

        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync($"api/users/{tokens.UserId}/activate", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.Client.PostAsJsonAsync("api/auth/login", new { username, password })).StatusCode);
    }

    [Fact]
    public async Task Deleted_user_cannot_log_in_and_looks_like_an_unknown_one()
    {
        var (username, password, tokens) = await server.CreateUserAsync("viewer");
        var admin = server.NewClient((await server.LoginAdminAsync()).Access);
        Assert.Equal(HttpStatusCode.OK, (await server.NewClient(tokens.Access).GetAsync("api/auth/me")).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"api/users/{tokens.UserId}")).StatusCode);

        await (await server.Client.PostAsJsonAsync("api/auth/login", new { username, password }))
            .AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_credentials");
        await (await server.NewClient(tokens.Access).GetAsync("api/auth/me")).AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_token");
        var user = await (await admin.GetAsync($"api/users/{tokens.UserId}")).ReadJsonAsync();
        Assert.Equal("deleted", user["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Demotion_takes_effect_on_the_next_request_without_a_new_token()
    {
        var (_, _, tokens) = await server.CreateUserAsync("admin");
        var client = server.NewClient(tokens.Access);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("api/users")).StatusCode);

        var admin = server.NewClient((await server.LoginAdminAsync()).Access);
        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"api/users/{tokens.UserId}/role", new { role = "user" })).StatusCode);

        await (await client.GetAsync("api/users")).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
    }

    [ServerFact("reads the stored hash through the server's IUserStore")]
    public async Task A_login_with_a_hash_from_a_lower_work_factor_upgrades_the_hash()
    {
        var (username, password, tokens) = await server.CreateUserAsync("user");
        var store = Server.Services.GetRequiredService<IUserStore>();
        Assert.Matches(@"^\$2[aby]\$04\$", (await store.FindByIdAsync(tokens.UserId, default))!.PasswordHash);

        await using var stronger = await TestServer.StartAsync(
            server.Store, new Dictionary<string, string?> { ["IronAuth:Passwords:BcryptWorkFactor"] = "5" });
        await stronger.LoginAsync(username, password);

        var hash = (await store.FindByIdAsync(tokens.UserId, default))!.PasswordHash;
        Assert.Matches(@"^\$2[aby]\$05\$", hash);
        await stronger.LoginAsync(username, password);
    }
}

public sealed class SqliteSignInTests() : SignInTests(TestStore.Sqlite);

public sealed class TablesSignInTests() : SignInTests(TestStore.Tables);

public sealed class FunctionsSqliteSignInTests(ITestOutputHelper output) : SignInTests(ApiTarget.FunctionsOn(TestStore.Sqlite, output)), IRunsOnFunctions;

public sealed class FunctionsTablesSignInTests(ITestOutputHelper output) : SignInTests(ApiTarget.FunctionsOn(TestStore.Tables, output)), IRunsOnFunctions;
