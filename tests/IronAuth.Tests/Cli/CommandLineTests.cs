using System.CommandLine;
using IronAuth.Server.Cli;
using IronAuth.Tests.Support;

namespace IronAuth.Tests.Cli;

public sealed class CommandLineTests : IDisposable
{
    private readonly CliRunner cli = new();

    public void Dispose() => cli.Dispose();

    public static TheoryData<string> CommandPaths() => new(AllCommandPaths());

    /// <summary>Every command of the tree as typed after <c>ironauth</c>; "" is the root.</summary>
    private static List<string> AllCommandPaths()
    {
        var root = IronAuthCli.BuildRootCommand(new CliContext(TextReader.Null, TextWriter.Null, TextWriter.Null, new CliEnvironment()));
        var paths = new List<string> { "" };
        void Walk(Command command, string path)
        {
            foreach (var child in command.Subcommands)
            {
                var childPath = (path + " " + child.Name).Trim();
                paths.Add(childPath);
                Walk(child, childPath);
            }
        }

        Walk(root, "");
        return paths;
    }

    [Theory]
    [InlineData("serve --IronAuth:Bootstrap:AdminPassword=hunter2-hunter2", "IronAuth__Bootstrap__AdminPassword")]
    [InlineData("--urls http://127.0.0.1:0 --IronAuth:Jwt:SigningKey hunter2-key", "IronAuth__Jwt__SigningKey")]
    [InlineData("serve /IronAuth:Jwt:SigningKey hunter2-key", "IronAuth__Jwt__SigningKey")]
    [InlineData("serve --IronAuth:Jwt:PreviousSigningKeys:0=hunter2-key", "IronAuth__Jwt__PreviousSigningKeys__0")]
    [InlineData("serve --tables-connection-string DefaultEndpointsProtocol=https;AccountName=a;AccountKey=hunter2", "IronAuth__Tables__ConnectionString")]
    [InlineData("serve --IronAuth:Email:Smtp:Password=hunter2-smtp", "IronAuth__Email__Smtp__Password")]
    [InlineData("serve --IronAuth:Mfa:EncryptionKey hunter2-key", "IronAuth__Mfa__EncryptionKey")]
    public async Task Serve_refuses_secrets_on_the_command_line_and_names_the_variable_to_use(string commandLine, string variable)
    {
        var result = await cli.RunAsync(commandLine.Split(' '));

        Assert.Equal(IronAuthCli.UsageError, result.ExitCode);
        Assert.Contains("refusing to start", result.Error, StringComparison.Ordinal);
        Assert.Contains(variable, result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", result.Error + result.Output, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(CommandPaths))]
    public async Task Every_command_has_help(string path)
    {
        var result = await cli.RunAsync([.. path.Split(' ', StringSplitOptions.RemoveEmptyEntries), "--help"]);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("Usage:", result.Output, StringComparison.Ordinal);
        Assert.Contains($" {path} ".Replace("  ", " ", StringComparison.Ordinal), result.Output.Replace("\n", " ", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Equal("", result.Error);
        Assert.False(File.Exists(cli.DatabasePath));
    }

    [Fact]
    public void The_command_tree_has_every_command_of_the_issue()
    {
        var paths = AllCommandPaths().ToHashSet();

        Assert.Superset(
            new HashSet<string>
            {
                "serve", "init", "users create", "users list", "users show", "users suspend", "users activate", "users delete",
                "users set-role", "users reset-password", "tokens create", "tokens list", "tokens revoke", "tokens usage",
                "maintenance run", "audit",
            },
            paths);
    }

    [Theory]
    [InlineData("Unrecognized command or argument 'user'", "user", "list")]
    [InlineData("Unrecognized command or argument '--bogus'", "users", "list", "--bogus")]
    [InlineData("Unrecognized command or argument '--urls'", "users", "list", "--urls", "http://127.0.0.1:0")]
    [InlineData("Unrecognized command or argument 'extra'", "users", "show", "ada", "extra")]
    [InlineData("Unrecognized command or argument '--urls'", "--store", "sqlite", "users", "list", "--urls", "http://127.0.0.1:0")]
    [InlineData("Required command was not provided", "users")]
    [InlineData("'superuser' not recognized", "users", "set-role", "ada", "superuser")]
    [InlineData("'--user' is required", "tokens", "create", "--name", "x")]
    [InlineData("Cannot parse argument 'abc' for option '--days'", "tokens", "usage", "x", "--days", "abc")]
    [InlineData("--days must be from 1 to 366", "tokens", "usage", "x", "--days", "0")]
    [InlineData("--limit must be from 1 to 10000", "audit", "--limit", "0")]
    [InlineData("--force need --admin-username", "init", "--force")]
    [InlineData("'mysql' not recognized", "users", "list", "--store", "mysql")]
    public async Task Bad_arguments_are_usage_errors_that_touch_no_store(string message, params string[] args)
    {
        var result = await cli.RunAsync(args);

        result.AssertUsageError(message);
        Assert.Contains("--help' for usage", result.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(cli.DatabasePath));
    }

    [Fact]
    public async Task Bad_configuration_fails_with_one_line_naming_the_setting()
    {
        cli.Settings["IronAuth:Passwords:BcryptWorkFactor"] = "99";

        var result = await cli.RunAsync("users", "list");

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("ironauth: invalid configuration: IronAuth:Passwords:BcryptWorkFactor", Assert.Single(result.ErrorLines), StringComparison.Ordinal);
        Assert.False(File.Exists(cli.DatabasePath));
    }

    [Fact]
    public async Task Maintenance_run_purges_once_and_prints_its_counts()
    {
        await cli.CreateUserAsync("ada");
        var id = (await cli.SucceedAsync("tokens", "create", "--user", "ada", "--name", "old", "--json")).Json["metadata"]!["id"]!.GetValue<string>();
        await cli.SucceedAsync("tokens", "revoke", id);
        cli.Time.Advance(TimeSpan.FromDays(31));

        var first = Counts(await cli.SucceedAsync("maintenance", "run"));
        var second = Counts(await cli.SucceedAsync("maintenance", "run"));

        Assert.Equal("1", first["api_tokens"]);
        Assert.Equal("true", first["complete"]);
        Assert.Equal("0", second["api_tokens"]);
        Assert.Equal(
            ["sessions", "refresh_tokens", "api_tokens", "password_resets", "rate_buckets", "usage_days", "email_codes", "mfa_challenges", "signing_key_rotated", "signing_keys_retired", "budget_leases_expired", "budgets_purged", "complete"],
            first.Keys);
        Assert.Equal("false", first["signing_key_rotated"]);
        Assert.Single((await cli.SucceedAsync("tokens", "list")).OutputLines);
        Assert.Equal(2, (await cli.SucceedAsync("audit", "--json")).Json.AsArray().Count(e => e!["action"]!.GetValue<string>() == "maintenance.ran"));

        static Dictionary<string, string> Counts(CliResult result) =>
            result.Table().ToDictionary(row => row[0], row => row[1]);
    }

    [Fact]
    public async Task Audit_shows_the_newest_entries_first_within_the_limit()
    {
        foreach (var name in new[] { "ada", "bob", "cyd" })
        {
            await cli.CreateUserAsync(name);
            cli.Time.Advance(TimeSpan.FromSeconds(1));
        }

        await cli.SucceedAsync("users", "suspend", "bob");

        var table = (await cli.SucceedAsync("audit", "--limit", "2")).Table();
        Assert.Equal(["AT", "ACTOR", "ACTION", "TARGET", "CLIENT IP", "DETAILS"], table[0]);
        Assert.Equal(3, table.Count);
        Assert.Equal(["2026-11-23T09:00:03Z", "local-operator", "user.suspended"], table[1][..3]);
        Assert.Equal(["2026-11-23T09:00:02Z", "local-operator", "user.created"], table[2][..3]);
        Assert.Equal("username=cyd role=user", table[2][^1]);

        var bob = (await cli.SucceedAsync("audit", "--user", "bob", "--json")).Json.AsArray();
        Assert.Equal(["user.suspended", "user.created"], bob.Select(e => e!["action"]!.GetValue<string>()));
        (await cli.RunAsync("audit", "--user", "nobody")).AssertFailed("not_found");
    }
}
