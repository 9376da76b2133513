using System.Net;
using IronAuth.Tests.Support;

namespace IronAuth.Tests.Cli;

public sealed class TokensCommandTests : IDisposable
{
    private readonly CliRunner cli = new();

    public void Dispose() => cli.Dispose();

    [Fact]
    public async Task A_token_created_on_the_command_line_works_over_http_with_its_scopes_and_limits_until_revoked()
    {
        await cli.CreateUserAsync("ada");
        var created = await cli.SucceedAsync("tokens", "create", "--user", "ada", "--name", "ci", "--scope", "users:read", "--scope", "tokens:read", "--rps", "0.5", "--burst", "2");
        var token = Assert.Single(created.OutputLines);
        Assert.Matches("^iron_[A-Za-z0-9_-]{49}$", token);
        Assert.Contains("shown only this once", created.Error, StringComparison.Ordinal);

        await using var server = await cli.StartServerAsync();
        var client = server.NewClient(token);
        var me = await client.GetAsync("api/auth/me");
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        var body = await me.ReadJsonAsync();
        Assert.Equal("ada", body["user"]!["username"]!.GetValue<string>());
        Assert.Equal(["tokens:read", "users:read"], body["scopes"]!.AsArray().Select(s => s!.GetValue<string>()));
        Assert.Equal("2", me.Headers.GetValues("RateLimit-Limit").Single());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("api/auth/me")).StatusCode);
        // The clock stands still, so a bucket of 2 is empty now.
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.GetAsync("api/auth/me")).StatusCode);

        var listed = (await cli.SucceedAsync("tokens", "list")).Table();
        Assert.Equal(["ada", "ci", token[..13], "2026-12-23T09:00:00Z", "2026-11-23T09:00:00Z", "active"], listed[1][1..]);
        var id = listed[1][0];

        var revoked = await cli.SucceedAsync("tokens", "revoke", id);
        Assert.Contains("Revoked token", revoked.Output, StringComparison.Ordinal);
        server.Time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("api/auth/me")).StatusCode);
        Assert.Equal("revoked", (await cli.SucceedAsync("tokens", "list")).Table()[1][^1]);
        Assert.Contains("already revoked", (await cli.SucceedAsync("tokens", "revoke", id)).Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_operator_may_grant_above_the_defaults_but_not_beyond_the_bounds_nor_the_active_cap()
    {
        cli.Settings["IronAuth:Tokens:MaxActivePerUser"] = "2";
        await cli.CreateUserAsync("ada");

        (await cli.RunAsync("tokens", "create", "--user", "ada", "--name", "tiny", "--rps", "1e-300")).AssertFailed("validation_failed");
        (await cli.RunAsync("tokens", "create", "--user", "ada", "--name", "wide", "--daily-tokens", "9223372036854775807")).AssertFailed("validation_failed");
        await cli.SucceedAsync("tokens", "create", "--user", "ada", "--name", "fast", "--rps", "1000000", "--burst", "1000000");
        await cli.SucceedAsync("tokens", "create", "--user", "ada", "--name", "second");
        (await cli.RunAsync("tokens", "create", "--user", "ada", "--name", "third")).AssertFailed("too_many_tokens");
    }

    [Fact]
    public async Task Tokens_list_is_an_aligned_table_and_json_and_filters_by_user()
    {
        await cli.CreateUserAsync("ada");
        await cli.CreateUserAsync("bob-the-builder");
        var adaToken = (await cli.SucceedAsync("tokens", "create", "--user", "ada", "--name", "first token", "--days", "7")).Output.Trim();
        // Tokens list in creation order, which ids keep to the millisecond.
        cli.Time.Advance(TimeSpan.FromSeconds(1));
        await cli.SucceedAsync("tokens", "create", "--user", "bob-the-builder", "--name", "b");

        var lines = (await cli.SucceedAsync("tokens", "list")).OutputLines;
        Assert.Equal(3, lines.Length);
        foreach (var header in new[] { "USER", "NAME", "PREFIX", "EXPIRES", "LAST USED", "STATE" })
        {
            var column = lines[0].IndexOf(header, StringComparison.Ordinal);
            Assert.True(column > 0);
            Assert.All(lines[1..], line => Assert.NotEqual(' ', line[column]));
            Assert.All(lines[1..], line => Assert.Equal(' ', line[column - 1]));
        }

        var json = (await cli.SucceedAsync("tokens", "list", "--user", "ada", "--json")).Json.AsArray();
        var only = Assert.Single(json)!;
        Assert.Equal("first token", only["name"]!.GetValue<string>());
        Assert.Equal(adaToken[..13], only["prefix"]!.GetValue<string>());
        Assert.Equal("active", only["state"]!.GetValue<string>());
        Assert.DoesNotContain(adaToken, (await cli.SucceedAsync("tokens", "list", "--json")).Output, StringComparison.Ordinal);

        cli.Time.Advance(TimeSpan.FromDays(8));
        Assert.Equal(["expired", "active"], (await cli.SucceedAsync("tokens", "list")).Table()[1..].Select(row => row[^1]));
    }

    [Fact]
    public async Task Token_usage_shows_the_requests_made_over_http_per_day()
    {
        await cli.CreateUserAsync("ada");
        var token = (await cli.SucceedAsync("tokens", "create", "--user", "ada", "--name", "metered", "--daily-requests", "100", "--json")).Json;
        var id = token["metadata"]!["id"]!.GetValue<string>();
        Assert.Equal(100, token["metadata"]!["limits"]!["daily_requests"]!.GetValue<long>());
        await using var server = await cli.StartServerAsync();
        var client = server.NewClient(token["token"]!.GetValue<string>());
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("api/auth/me")).StatusCode);
        }

        var days = (await cli.SucceedAsync("tokens", "usage", id, "--days", "2", "--json")).Json.AsArray();
        Assert.Equal(["2026-11-23", "2026-11-22"], days.Select(d => d!["day"]!.GetValue<string>()));
        Assert.Equal([3L, 0L], days.Select(d => d!["requests"]!.GetValue<long>()));

        var table = (await cli.SucceedAsync("tokens", "usage", id)).Table();
        Assert.Equal(["DAY", "REQUESTS", "TOKENS", "COST"], table[0]);
        Assert.Equal(8, table.Count);
        Assert.Equal(["2026-11-23", "3", "0", "0"], table[1]);
    }

    [Fact]
    public async Task Create_follows_the_api_rules()
    {
        await cli.CreateUserAsync("vera", "viewer");

        (await cli.RunAsync("tokens", "create", "--user", "nobody", "--name", "x")).AssertFailed("not_found");
        (await cli.RunAsync("tokens", "create", "--user", "vera", "--name", "x", "--scope", "tokens:write")).AssertFailed("forbidden");
        (await cli.RunAsync("tokens", "create", "--user", "vera", "--name", "x", "--scope", "everything")).AssertFailed("validation_failed");
        (await cli.RunAsync("tokens", "create", "--user", "vera", "--name", "x", "--days", "0")).AssertFailed("validation_failed");
        await cli.SucceedAsync("users", "suspend", "vera");
        (await cli.RunAsync("tokens", "create", "--user", "vera", "--name", "x")).AssertFailed("owner_inactive");
        Assert.Single((await cli.SucceedAsync("tokens", "list")).OutputLines);
        (await cli.RunAsync("tokens", "revoke", "0123456789abcdef0123456789abcdef")).AssertFailed("not_found");
        (await cli.RunAsync("tokens", "usage", "not-an-id")).AssertFailed("not_found");
    }
}
