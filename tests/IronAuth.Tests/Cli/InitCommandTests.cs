using System.Net;
using System.Net.Http.Json;
using System.Runtime.Versioning;
using System.Text.RegularExpressions;
using IronAuth.Tests.Support;

namespace IronAuth.Tests.Cli;

public sealed class InitCommandTests : IDisposable
{
    private readonly CliRunner cli = new();

    public void Dispose() => cli.Dispose();

    [Fact]
    public async Task Init_creates_the_schema_the_signing_key_and_an_admin_who_signs_in_over_http()
    {
        var init = await cli.SucceedWithInputAsync(CliRunner.Password + "\n", "init", "--admin-username", "root", "--admin-password-stdin");
        var keyId = Regex.Match(init.Output, @"key (\S+)\.").Groups[1].Value;

        Assert.Contains("Created admin 'root'", init.Output, StringComparison.Ordinal);
        await using var server = await cli.StartServerAsync();
        var login = await server.Client.PostAsJsonAsync("api/auth/login", new { username = "root", password = CliRunner.Password });
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        Assert.Equal("admin", (await login.ReadJsonAsync())["user"]!["role"]!.GetValue<string>());
        // The server signs with the key init stored, not one of its own.
        var jwks = await (await server.Client.GetAsync("api/auth/jwks.json")).ReadJsonAsync();
        Assert.Equal(keyId, Assert.Single(jwks["keys"]!.AsArray())!["kid"]!.GetValue<string>());
    }

    [Fact]
    [UnsupportedOSPlatform("windows")]
    public async Task Init_creates_the_store_files_readable_by_their_owner_only()
    {
        // The file holds the generated signing key: readable by others, it lets anyone on the machine forge tokens.
        await cli.SucceedWithInputAsync(CliRunner.Password + "\n", "init", "--admin-username", "root", "--admin-password-stdin");
        await cli.SucceedAsync("users", "list");

        foreach (var file in new[] { cli.DatabasePath, cli.DatabasePath + "-wal", cli.DatabasePath + "-shm" }.Where(File.Exists))
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        }

        Assert.True(File.Exists(cli.DatabasePath));
    }

    [Fact]
    public async Task Init_without_an_admin_prepares_the_store_and_keeps_its_key()
    {
        var first = await cli.SucceedAsync("init");
        var second = await cli.SucceedAsync("init");

        Assert.True(File.Exists(cli.DatabasePath));
        Assert.Equal(first.Output, second.Output);
        Assert.Single((await cli.SucceedAsync("users", "list")).OutputLines);
    }

    [Fact]
    public async Task Init_refuses_a_second_admin_unless_forced()
    {
        await cli.SucceedWithInputAsync(CliRunner.Password + "\n", "init", "--admin-username", "root", "--admin-password-stdin");
        cli.Time.Advance(TimeSpan.FromSeconds(1));

        var refused = await cli.RunWithInputAsync(CliRunner.Password + "\n", "init", "--admin-username", "other", "--admin-password-stdin");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("already has an active admin ('root')", refused.Error, StringComparison.Ordinal);
        Assert.Contains("--force", refused.Error, StringComparison.Ordinal);
        Assert.Single((await cli.SucceedAsync("users", "list", "--json")).Json.AsArray());

        await cli.SucceedWithInputAsync(CliRunner.Password + "\n", "init", "--admin-username", "other", "--admin-password-stdin", "--force");
        var admins = (await cli.SucceedAsync("users", "list", "--role", "admin", "--json")).Json.AsArray();
        Assert.Equal(["root", "other"], admins.Select(a => a!["username"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Init_asks_twice_on_a_terminal_and_refuses_a_mismatch()
    {
        var prompts = new List<string>();
        var answers = new Queue<string>(["first-password-typed", "second-password-typed", CliRunner.Password, CliRunner.Password]);
        cli.ReadSecret = prompt =>
        {
            prompts.Add(prompt);
            return answers.Dequeue();
        };

        var mismatch = await cli.RunAsync("init", "--admin-username", "root");
        Assert.Equal(1, mismatch.ExitCode);
        Assert.Contains("did not match", mismatch.Error, StringComparison.Ordinal);
        Assert.Single((await cli.SucceedAsync("users", "list")).OutputLines);

        await cli.SucceedAsync("init", "--admin-username", "root");
        Assert.Equal(4, prompts.Count);
        Assert.StartsWith("Password for root", prompts[0], StringComparison.Ordinal);
        await using var server = await cli.StartServerAsync();
        await server.LoginAsync("root", CliRunner.Password);
    }

    [Fact]
    public async Task Init_without_a_password_source_off_a_terminal_is_a_usage_error()
    {
        var result = await cli.RunAsync("init", "--admin-username", "root");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--admin-password-stdin", result.Error, StringComparison.Ordinal);
        Assert.Single((await cli.SucceedAsync("users", "list")).OutputLines);
    }

    [Fact]
    public async Task Init_refuses_a_weak_admin_password()
    {
        var result = await cli.RunWithInputAsync("password123\n", "init", "--admin-username", "root", "--admin-password-stdin");

        result.AssertFailed("weak_password");
        Assert.Single((await cli.SucceedAsync("users", "list")).OutputLines);
    }
}
