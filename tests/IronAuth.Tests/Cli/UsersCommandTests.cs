using System.Net;
using System.Net.Http.Json;
using IronAuth.Tests.Support;

namespace IronAuth.Tests.Cli;

public sealed class UsersCommandTests : IDisposable
{
    private readonly CliRunner cli = new();

    public void Dispose() => cli.Dispose();

    [Fact]
    public async Task Create_list_and_show_a_user()
    {
        await cli.SucceedWithInputAsync(
            CliRunner.Password + "\n", "users", "create", "ada", "--role", "viewer", "--email", "ada@example.com", "--display-name", "Ada L", "--password-stdin");
        // Users list in creation order, which ids keep to the millisecond.
        cli.Time.Advance(TimeSpan.FromSeconds(1));
        await cli.CreateUserAsync("bob");

        var table = (await cli.SucceedAsync("users", "list")).Table();
        Assert.Equal(["ID", "USERNAME", "ROLE", "STATUS", "EMAIL", "CREATED"], table[0]);
        Assert.Equal(["ada", "viewer", "active", "ada@example.com", "2026-11-23T09:00:00Z"], table[1][1..]);
        Assert.Equal(["bob", "user", "active", "-"], table[2][1..5]);
        var id = table[1][0];

        var byName = await cli.SucceedAsync("users", "show", "ada");
        var byId = await cli.SucceedAsync("users", "show", id);
        Assert.Equal(byName.Output, byId.Output);
        Assert.Contains(byName.OutputLines, line => line.StartsWith("display_name", StringComparison.Ordinal) && line.EndsWith("Ada L", StringComparison.Ordinal));
        var json = (await cli.SucceedAsync("users", "show", "ADA", "--json")).Json;
        Assert.Equal(id, json["id"]!.GetValue<string>());
        Assert.Equal("viewer", json["role"]!.GetValue<string>());
        Assert.Equal(["ada"], (await cli.SucceedAsync("users", "list", "--role", "viewer", "--json")).Json.AsArray().Select(u => u!["username"]!.GetValue<string>()));
    }

    [Theory]
    [InlineData("short-pw")]
    [InlineData("1qaz2wsx3edc")]
    [InlineData("ada-lovelace")]
    public async Task Create_refuses_a_weak_password_and_creates_nothing(string password)
    {
        var result = await cli.RunWithInputAsync(password + "\n", "users", "create", "ada-lovelace", "--password-stdin");

        result.AssertFailed("weak_password");
        Assert.Equal("[]", (await cli.SucceedAsync("users", "list", "--json")).Json.ToJsonString());
    }

    [Fact]
    public async Task Create_refuses_a_taken_username_and_an_empty_password()
    {
        await cli.CreateUserAsync("ada");

        (await cli.RunWithInputAsync(CliRunner.Password + "\n", "users", "create", "ADA", "--password-stdin")).AssertFailed("username_taken");
        var empty = await cli.RunWithInputAsync("\n", "users", "create", "bob", "--password-stdin");
        Assert.Equal(1, empty.ExitCode);
        Assert.Contains("No password", empty.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("show")]
    [InlineData("suspend")]
    [InlineData("activate")]
    [InlineData("delete")]
    [InlineData("reset-password")]
    public async Task Commands_on_an_unknown_user_fail_with_not_found(string command)
    {
        await cli.CreateUserAsync("ada");

        var result = await cli.RunAsync("users", command, "nobody");

        result.AssertFailed("not_found");
        Assert.Contains("'nobody'", result.Error, StringComparison.Ordinal);
        Assert.Equal("", result.Output);
    }

    [Fact]
    public async Task The_last_admin_cannot_be_demoted_suspended_or_deleted()
    {
        await cli.CreateUserAsync("root", "admin");

        (await cli.RunAsync("users", "set-role", "root", "user")).AssertFailed("last_admin");
        (await cli.RunAsync("users", "suspend", "root")).AssertFailed("last_admin");
        (await cli.RunAsync("users", "delete", "root")).AssertFailed("last_admin");
        Assert.Contains("admin  active", (await cli.SucceedAsync("users", "list")).OutputLines[1], StringComparison.Ordinal);

        await cli.CreateUserAsync("second", "admin");
        await cli.SucceedAsync("users", "set-role", "root", "viewer");
        Assert.Equal("viewer", (await cli.SucceedAsync("users", "show", "root", "--json")).Json["role"]!.GetValue<string>());
        (await cli.RunAsync("users", "delete", "second")).AssertFailed("last_admin");
    }

    [Fact]
    public async Task Changes_are_audited_as_the_local_operator()
    {
        // The clock moves between changes so that the log's newest-first order is the order they were made in.
        await cli.CreateUserAsync("ada");
        cli.Time.Advance(TimeSpan.FromSeconds(1));
        await cli.SucceedAsync("users", "suspend", "ada", "--reason", "left the team");
        var suspended = (await cli.SucceedAsync("users", "show", "ada", "--json")).Json;
        Assert.Equal("suspended", suspended["status"]!.GetValue<string>());
        Assert.Equal("left the team", suspended["status_reason"]!.GetValue<string>());
        cli.Time.Advance(TimeSpan.FromSeconds(1));
        await cli.SucceedAsync("users", "activate", "ada");
        cli.Time.Advance(TimeSpan.FromSeconds(1));
        await cli.SucceedAsync("users", "set-role", "ada", "viewer");
        cli.Time.Advance(TimeSpan.FromSeconds(1));
        await cli.SucceedAsync("users", "delete", "ada");
        Assert.Equal("deleted", (await cli.SucceedAsync("users", "show", "ada", "--json")).Json["status"]!.GetValue<string>());

        var entries = (await cli.SucceedAsync("audit", "--user", "ada", "--json")).Json.AsArray();
        Assert.Equal(
            ["user.deleted", "user.role_changed", "user.activated", "user.suspended", "user.created"],
            entries.Select(e => e!["action"]!.GetValue<string>()));
        Assert.All(entries, e =>
        {
            Assert.Equal("local-operator", e!["actor_name"]!.GetValue<string>());
            Assert.Null(e["actor_id"]);
        });
        Assert.Equal("left the team", entries[3]!["details"]!["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task Suspending_a_user_ends_its_sessions_on_the_server()
    {
        await cli.CreateUserAsync("ada");
        await using var server = await cli.StartServerAsync();
        var session = server.NewClient((await server.LoginAsync("ada", CliRunner.Password)).Access);
        Assert.Equal(HttpStatusCode.OK, (await session.GetAsync("api/auth/me")).StatusCode);

        await cli.SucceedAsync("users", "suspend", "ada");

        // The CLI is another process as far as the server is concerned: the server's cached session and user
        // lapse within IronAuth:Tokens:CacheTtl (2 s).
        cli.Time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(HttpStatusCode.Unauthorized, (await session.GetAsync("api/auth/me")).StatusCode);
        var login = await server.Client.PostAsJsonAsync("api/auth/login", new { username = "ada", password = CliRunner.Password });
        Assert.NotEqual(HttpStatusCode.OK, login.StatusCode);
    }

    [Fact]
    public async Task Reset_password_prints_only_a_one_time_token_that_sets_a_new_password_over_http()
    {
        await cli.CreateUserAsync("ada");

        var reset = await cli.SucceedAsync("users", "reset-password", "ada");

        var token = Assert.Single(reset.OutputLines);
        Assert.Contains("shown only this once", reset.Error, StringComparison.Ordinal);
        await using var server = await cli.StartServerAsync();
        var confirm = await server.Client.PostAsJsonAsync("api/auth/password-reset/confirm", new { reset_token = token, new_password = "a-brand-new-password-42" });
        Assert.Equal(HttpStatusCode.NoContent, confirm.StatusCode);
        await server.LoginAsync("ada", "a-brand-new-password-42");
        var again = await server.Client.PostAsJsonAsync("api/auth/password-reset/confirm", new { reset_token = token, new_password = "yet-another-password-43" });
        Assert.Equal(HttpStatusCode.BadRequest, again.StatusCode);
    }
}
