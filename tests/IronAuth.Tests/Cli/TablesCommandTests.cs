using System.Net;
using IronAuth.Server.Cli;
using IronAuth.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace IronAuth.Tests.Cli;

/// <summary>The command line against Table Storage (Azurite), selected with --store and --tables-connection-string.</summary>
public sealed class TablesCommandTests : IAsyncLifetime
{
    private const string Password = "correct-horse-battery-staple-9";
    private readonly FakeTimeProvider time = new(new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero));
    private TestStore store = null!;

    public async Task InitializeAsync() => store = await TestStore.CreateAsync(TestStore.Tables);

    public Task DisposeAsync()
    {
        store.Dispose();
        return Task.CompletedTask;
    }

    private async Task<(int ExitCode, string Output, string Error)> RunAsync(string? stdin, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var environment = new CliEnvironment
        {
            ConfigureHost = builder =>
            {
                // The prefix isolates this test's tables; store and connection come from the command line.
                builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
                {
                    ["IronAuth:Tables:TablePrefix"] = store.Settings["IronAuth:Tables:TablePrefix"],
                    ["IronAuth:Passwords:BcryptWorkFactor"] = "4",
                });
                builder.Services.AddSingleton<TimeProvider>(time);
            },
        };
        string[] storeArgs = ["--store", "tables", "--tables-connection-string", store.Settings["IronAuth:Tables:ConnectionString"]!];
        var exitCode = await IronAuthCli.RunAsync([.. args, .. storeArgs], new StringReader(stdin ?? ""), output, error, environment);
        return (exitCode, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Init_users_and_tokens_work_on_table_storage_and_the_token_works_over_http()
    {
        var init = await RunAsync(Password + "\n", "init", "--admin-username", "root", "--admin-password-stdin");
        Assert.True(init.ExitCode == 0, init.Error);
        var created = await RunAsync(Password + "\n", "users", "create", "ada", "--role", "user", "--password-stdin");
        Assert.True(created.ExitCode == 0, created.Error);

        var list = await RunAsync(null, "users", "list", "--json");
        Assert.Contains("\"ada\"", list.Output, StringComparison.Ordinal);
        Assert.Contains("\"root\"", list.Output, StringComparison.Ordinal);
        var lastAdmin = await RunAsync(null, "users", "suspend", "root");
        Assert.Equal(1, lastAdmin.ExitCode);
        Assert.Contains("last_admin", lastAdmin.Error, StringComparison.Ordinal);

        var token = await RunAsync(null, "tokens", "create", "--user", "ada", "--name", "cli", "--scope", "users:read");
        Assert.True(token.ExitCode == 0, token.Error);
        var plaintext = token.Output.Trim();
        Assert.StartsWith("iron_", plaintext, StringComparison.Ordinal);

        // The JWT signing key comes from the store the command line initialised, so no shared test key.
        await using var server = await TestServer.StartAsync(store, new Dictionary<string, string?> { ["IronAuth:Jwt:Algorithm"] = "RS256" }, time);
        var me = await server.NewClient(plaintext).GetAsync("api/auth/me");
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        Assert.Equal("ada", (await me.ReadJsonAsync())["user"]!["username"]!.GetValue<string>());
        await server.LoginAsync("root", Password);

        var tokens = await RunAsync(null, "tokens", "list", "--user", "ada", "--json");
        Assert.Contains("cli", tokens.Output, StringComparison.Ordinal);
        Assert.Equal(0, (await RunAsync(null, "maintenance", "run")).ExitCode);
        Assert.Equal(0, (await RunAsync(null, "audit", "--limit", "5")).ExitCode);
    }
}
