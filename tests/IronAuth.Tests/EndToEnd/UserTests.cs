using System.Net;
using System.Net.Http.Json;
using IronAuth.Core.Users;
using IronAuth.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace IronAuth.Tests.EndToEnd;

public abstract class UserTests(ApiTarget target) : IAsyncLifetime
{
    private IApiHost server = null!;

    /// <summary>The self-hosted server, for the <see cref="ServerFactAttribute"/> tests that reach into its process.</summary>
    private TestServer Server => (TestServer)server;
    private HttpClient admin = null!;

    public async Task InitializeAsync()
    {
        server = await target.StartAsync();
        admin = server.NewClient((await server.LoginAdminAsync()).Access);
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    private static string NewName(string prefix = "u") => $"{prefix}-{Guid.NewGuid():N}"[..16];

    [Fact]
    public async Task Admin_creates_a_user_and_reads_it_back()
    {
        var username = NewName();
        var created = await admin.PostAsJsonAsync("api/users", new { username, password = "a-long-enough-pass", email = "a@example.com", display_name = "Ada", role = "user" });

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = await created.ReadJsonAsync();
        var id = body["id"]!.GetValue<string>();
        Assert.Equal($"/api/users/{id}", created.Headers.Location?.OriginalString);
        var fetched = await (await admin.GetAsync($"api/users/{id}")).ReadJsonAsync();
        Assert.Equal(username, fetched["username"]!.GetValue<string>());
        Assert.Equal("a@example.com", fetched["email"]!.GetValue<string>());
        Assert.Equal("Ada", fetched["display_name"]!.GetValue<string>());
        Assert.Equal("active", fetched["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Usernames_are_unique_case_insensitively()
    {
        var username = NewName("Case");
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("api/users", new { username, password = "a-long-enough-pass", role = "user" })).StatusCode);

        var again = await admin.PostAsJsonAsync("api/users", new { username = username.ToUpperInvariant(), password = "a-long-enough-pass", role = "user" });

        await again.AssertProblemAsync(HttpStatusCode.Conflict, "username_taken");
    }

    [Fact]
    public async Task Concurrent_creates_of_one_username_make_exactly_one_user()
    {
        var username = NewName();
        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ =>
            admin.PostAsJsonAsync("api/users", new { username, password = "a-long-enough-pass", role = "user" })));

        Assert.Equal(1, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
        Assert.Equal(7, responses.Count(r => r.StatusCode == HttpStatusCode.Conflict));
    }

    [Theory]
    [InlineData("ab", "a-long-enough-pass", "a@example.com", "validation_failed")]
    [InlineData("has space", "a-long-enough-pass", "a@example.com", "validation_failed")]
    [InlineData("okname", "a-long-enough-pass", "not-an-email", "validation_failed")]
    [InlineData("okname", "short", "a@example.com", "weak_password")]
    [InlineData("okname", "Qwerty123456", "a@example.com", "weak_password")]
    [InlineData("okname", "password1234", "a@example.com", "weak_password")]
    [InlineData("okname", "iloveyou1234", "a@example.com", "weak_password")]
    [InlineData("okname", "aaaaaaaaaaaaaaaa", "a@example.com", "weak_password")]
    [InlineData("okname", "ééééééééééééééééééééééééééééééééééééé", "a@example.com", "weak_password")]
    public async Task Invalid_users_are_refused_with_a_reason(string username, string password, string email, string code)
    {
        var response = await admin.PostAsJsonAsync("api/users", new { username = username + (username == "okname" ? NewName() : ""), password, email, role = "user" });
        await response.AssertProblemAsync(HttpStatusCode.BadRequest, code);
    }

    [Fact]
    public async Task Unknown_role_is_a_validation_problem()
    {
        var response = await admin.PostAsJsonAsync("api/users", new { username = NewName(), password = "a-long-enough-pass", role = "superuser" });
        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
    }

    [Fact]
    public async Task List_pages_with_an_opaque_cursor_and_filters_by_role_and_status()
    {
        var viewers = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            viewers.Add((await server.CreateUserAsync("viewer")).Tokens.UserId);
        }

        await admin.PostAsJsonAsync($"api/users/{viewers[0]}/suspend", new { reason = "r" });

        var seen = new List<string>();
        string? cursor = null;
        do
        {
            var page = await (await admin.GetAsync($"api/users?role=viewer&status=active&limit=2{(cursor is null ? "" : "&cursor=" + cursor)}")).ReadJsonAsync();
            var items = page["items"]!.AsArray();
            Assert.True(items.Count <= 2);
            Assert.All(items, u => Assert.Equal("viewer", u!["role"]!.GetValue<string>()));
            seen.AddRange(items.Select(u => u!["id"]!.GetValue<string>()));
            cursor = page["next_cursor"]?.GetValue<string>();
        }
        while (cursor is not null);

        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.Superset(viewers.Skip(1).ToHashSet(), seen.ToHashSet());
        Assert.DoesNotContain(viewers[0], seen);
        await (await admin.GetAsync("api/users?cursor=%%%")).AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await admin.GetAsync("api/users?limit=0")).AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await admin.GetAsync("api/users?role=root")).AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
    }

    [Fact]
    public async Task Patch_changes_only_the_fields_sent_and_null_clears()
    {
        var (_, password, tokens) = await server.CreateUserAsync("user");
        var self = server.NewClient(tokens.Access);

        var first = await self.PatchAsJsonAsync($"api/users/{tokens.UserId}", new { email = "me@example.com", display_name = "Me", current_password = password });
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var second = await (await self.PatchAsync($"api/users/{tokens.UserId}", HttpAssertions.Json("""{"display_name":null}"""))).ReadJsonAsync();

        Assert.Equal("me@example.com", second["email"]!.GetValue<string>());
        Assert.Null(second["display_name"]);
    }

    [Fact]
    public async Task Changing_ones_own_email_takes_the_password_and_spends_outstanding_resets()
    {
        var (_, password, user) = await server.CreateUserAsync("user");
        var self = server.NewClient(user.Access);
        var apiToken = (await (await self.PostAsJsonAsync("api/tokens", new { name = "scripts" })).ReadJsonAsync())["token"]!.GetValue<string>();
        var reset = (await (await admin.PostAsync($"api/users/{user.UserId}/password-reset", null)).ReadJsonAsync())["reset_token"]!.GetValue<string>();

        // A stolen access or API token alone cannot move the account's recovery address.
        await (await self.PatchAsJsonAsync($"api/users/{user.UserId}", new { email = "thief@example.com" }))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await server.NewClient(apiToken).PatchAsJsonAsync($"api/users/{user.UserId}", new { email = "thief@example.com" }))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await self.PatchAsJsonAsync($"api/users/{user.UserId}", new { email = "thief@example.com", current_password = "not-the-password" }))
            .AssertProblemAsync(HttpStatusCode.Forbidden, "invalid_credentials");
        var audit = await (await admin.GetAsync($"api/users/{user.UserId}/audit?limit=200")).ReadJsonAsync();
        Assert.Single(audit["items"]!.AsArray(), e => e!["action"]!.GetValue<string>() == "user.email_change_failed");
        Assert.Null((await (await admin.GetAsync($"api/users/{user.UserId}")).ReadJsonAsync())["email"]);

        // Other fields need no password; the right one moves the email, and the reset issued before is spent.
        Assert.Equal(HttpStatusCode.OK, (await self.PatchAsJsonAsync($"api/users/{user.UserId}", new { display_name = "Me" })).StatusCode);
        var moved = await self.PatchAsJsonAsync($"api/users/{user.UserId}", new { email = "me@example.com", current_password = password });
        Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
        Assert.Equal("me@example.com", (await moved.ReadJsonAsync())["email"]!.GetValue<string>());
        await (await server.Client.PostAsJsonAsync("api/auth/password-reset/confirm", new { reset_token = reset, new_password = "a-new-long-passphrase" }))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "invalid_reset_token");

        // An admin changing another user's email needs no password.
        Assert.Equal(HttpStatusCode.OK, (await admin.PatchAsJsonAsync($"api/users/{user.UserId}", new { email = "desk@example.com" })).StatusCode);
    }

    [Fact]
    public async Task Roles_without_a_permission_get_403()
    {
        var (_, _, user) = await server.CreateUserAsync("user");
        var (_, _, viewer) = await server.CreateUserAsync("viewer");
        var asUser = server.NewClient(user.Access);
        var asViewer = server.NewClient(viewer.Access);

        await (await asUser.GetAsync("api/users")).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await asUser.GetAsync($"api/users/{viewer.UserId}")).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await asUser.PostAsJsonAsync("api/users", new { username = NewName(), password = "a-long-enough-pass", role = "admin" }))
            .AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await asUser.PatchAsJsonAsync($"api/users/{viewer.UserId}", new { email = "x@example.com" }))
            .AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await asUser.PutAsJsonAsync($"api/users/{user.UserId}/role", new { role = "admin" }))
            .AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");

        Assert.Equal(HttpStatusCode.OK, (await asViewer.GetAsync("api/users")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await asViewer.GetAsync($"api/users/{user.UserId}")).StatusCode);
        await (await asViewer.PatchAsJsonAsync($"api/users/{viewer.UserId}", new { email = "v@example.com" }))
            .AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await asViewer.PostAsync($"api/users/{user.UserId}/suspend", null)).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await asViewer.DeleteAsync($"api/users/{user.UserId}")).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await asViewer.PostAsync($"api/users/{user.UserId}/password-reset", null)).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task The_last_active_admin_cannot_be_demoted_suspended_or_deleted()
    {
        // A server of its own, so no other test's admins exist.
        await using var lone = await target.StartAsync();
        var tokens = await lone.LoginAdminAsync();
        var client = lone.NewClient(tokens.Access);

        await (await client.PutAsJsonAsync($"api/users/{tokens.UserId}/role", new { role = "user" })).AssertProblemAsync(HttpStatusCode.Conflict, "last_admin");
        await (await client.PostAsync($"api/users/{tokens.UserId}/suspend", null)).AssertProblemAsync(HttpStatusCode.Conflict, "last_admin");
        await (await client.DeleteAsync($"api/users/{tokens.UserId}")).AssertProblemAsync(HttpStatusCode.Conflict, "last_admin");

        var (_, _, second) = await lone.CreateUserAsync("admin");
        Assert.Equal(HttpStatusCode.OK, (await client.PutAsJsonAsync($"api/users/{tokens.UserId}/role", new { role = "viewer" })).StatusCode);
        await (await lone.NewClient(second.Access).DeleteAsync($"api/users/{second.UserId}")).AssertProblemAsync(HttpStatusCode.Conflict, "last_admin");
    }

    [ServerFact("reads the admins back through the server's IUserStore")]
    public async Task Concurrent_demotions_of_the_last_two_admins_leave_one()
    {
        await using var pair = await TestServer.StartAsync(target.Store);
        var first = await pair.LoginAdminAsync();
        var (_, _, second) = await pair.CreateUserAsync("admin");

        // Each admin demotes the other at the same moment. The loser is refused either by the last-admin
        // check (409) or, if the winner committed before it authenticated, because it is no admin any more (403).
        var results = await Task.WhenAll(
            pair.NewClient(second.Access).PutAsJsonAsync($"api/users/{first.UserId}/role", new { role = "user" }),
            pair.NewClient(first.Access).PutAsJsonAsync($"api/users/{second.UserId}/role", new { role = "user" }));

        Assert.Equal(1, results.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(1, results.Count(r => r.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.Forbidden));
        var admins = await pair.Services.GetRequiredService<IUserStore>().ListAsync(new UserQuery(Role.Admin, UserStatus.Active, null, 10), default);
        Assert.Single(admins.Items);
    }

    [Fact]
    public async Task Changing_ones_password_ends_the_other_sessions_only()
    {
        var (username, password, first) = await server.CreateUserAsync("viewer");
        var second = await server.LoginAsync(username, password);
        var client = server.NewClient(first.Access);
        Assert.Equal(HttpStatusCode.OK, (await server.NewClient(second.Access).GetAsync("api/auth/me")).StatusCode);

        await (await client.PostAsJsonAsync($"api/users/{first.UserId}/password", new { current_password = "wrong-current-pw", new_password = "a-brand-new-password" }))
            .AssertProblemAsync(HttpStatusCode.Forbidden, "invalid_credentials");
        await (await client.PostAsJsonAsync($"api/users/{first.UserId}/password", new { current_password = password, new_password = "short" }))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "weak_password");
        var changed = await client.PostAsJsonAsync($"api/users/{first.UserId}/password", new { current_password = password, new_password = "a-brand-new-password" });

        Assert.Equal(HttpStatusCode.NoContent, changed.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("api/auth/me")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.NewClient(second.Access).GetAsync("api/auth/me")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Client.PostAsJsonAsync("api/auth/login", new { username, password })).StatusCode);
        await server.LoginAsync(username, "a-brand-new-password");
    }

    [Fact]
    public async Task Nobody_changes_another_users_password_through_the_self_service_route()
    {
        var (_, password, user) = await server.CreateUserAsync("user");

        var response = await admin.PostAsJsonAsync($"api/users/{user.UserId}/password", new { current_password = password, new_password = "a-brand-new-password" });

        await response.AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
    }

    [ServerFact("moves the server's clock past the reset token's lifetime")]
    public async Task Password_reset_token_is_one_time_short_lived_and_ends_sessions()
    {
        var (username, _, user) = await server.CreateUserAsync("user");
        Assert.Equal(HttpStatusCode.OK, (await server.NewClient(user.Access).GetAsync("api/auth/me")).StatusCode);
        var issued = await admin.PostAsync($"api/users/{user.UserId}/password-reset", null);
        Assert.Equal(HttpStatusCode.OK, issued.StatusCode);
        var resetToken = (await issued.ReadJsonAsync())["reset_token"]!.GetValue<string>();

        await (await server.Client.PostAsJsonAsync("api/auth/password-reset/confirm", new { reset_token = resetToken, new_password = "password" }))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "weak_password");
        var confirmed = await server.Client.PostAsJsonAsync("api/auth/password-reset/confirm", new { reset_token = resetToken, new_password = "reset-to-this-one" });
        Assert.Equal(HttpStatusCode.NoContent, confirmed.StatusCode);

        await (await server.Client.PostAsJsonAsync("api/auth/password-reset/confirm", new { reset_token = resetToken, new_password = "and-again-this-one" }))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "invalid_reset_token");
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.NewClient(user.Access).GetAsync("api/auth/me")).StatusCode);
        await server.LoginAsync(username, "reset-to-this-one");

        var late = (await (await admin.PostAsync($"api/users/{user.UserId}/password-reset", null)).ReadJsonAsync())["reset_token"]!.GetValue<string>();
        Server.Time.Advance(TimeSpan.FromMinutes(31));
        await (await server.Client.PostAsJsonAsync("api/auth/password-reset/confirm", new { reset_token = late, new_password = "too-late-for-this" }))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "invalid_reset_token");
    }

    [Fact]
    public async Task Unknown_user_id_is_404()
    {
        await (await admin.GetAsync($"api/users/{Guid.NewGuid():N}")).AssertProblemAsync(HttpStatusCode.NotFound, "not_found");
        await (await admin.GetAsync("api/users/not-an-id")).AssertProblemAsync(HttpStatusCode.NotFound, "not_found");
        await (await admin.PostAsync($"api/users/{Guid.NewGuid():N}/suspend", null)).AssertProblemAsync(HttpStatusCode.NotFound, "not_found");
    }
}

public sealed class SqliteUserTests() : UserTests(TestStore.Sqlite);

public sealed class TablesUserTests() : UserTests(TestStore.Tables);

public sealed class FunctionsSqliteUserTests(ITestOutputHelper output) : UserTests(ApiTarget.FunctionsOn(TestStore.Sqlite, output)), IRunsOnFunctions;

public sealed class FunctionsTablesUserTests(ITestOutputHelper output) : UserTests(ApiTarget.FunctionsOn(TestStore.Tables, output)), IRunsOnFunctions;
