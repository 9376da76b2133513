using System.Text.Json.Nodes;
using IronAuth.Server.Cli;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace IronAuth.Tests.Support;

/// <summary>
/// The <c>ironauth</c> command line run in-process over a temporary SQLite file, with a clock the test moves
/// (shared with any <see cref="TestServer"/> started on the same file) and a cheap bcrypt cost.
/// </summary>
public sealed class CliRunner : IDisposable
{
    public const string Password = "correct-horse-battery-staple-9";

    private readonly TempDirectory directory = new();

    public CliRunner()
    {
        DatabasePath = Path.Combine(directory.Path, "ironauth.db");
    }

    public string DatabasePath { get; }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero));

    /// <summary>Stands in for the terminal; null means standard input is not a terminal.</summary>
    public Func<string, string?>? ReadSecret { get; set; }

    /// <summary>Extra configuration for the commands' host.</summary>
    public Dictionary<string, string?> Settings { get; } = new() { ["IronAuth:Passwords:BcryptWorkFactor"] = "4" };

    /// <summary>Runs <c>ironauth ARGS --sqlite-path FILE</c> with <paramref name="stdin"/> as standard input.</summary>
    public async Task<CliResult> RunWithInputAsync(string? stdin, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var environment = new CliEnvironment
        {
            ReadSecret = ReadSecret,
            ConfigureHost = builder =>
            {
                builder.Configuration.AddInMemoryCollection(Settings);
                builder.Services.AddSingleton<TimeProvider>(Time);
            },
        };
        var exitCode = await IronAuthCli.RunAsync([.. args, "--sqlite-path", DatabasePath], new StringReader(stdin ?? ""), output, error, environment);
        return new CliResult(exitCode, output.ToString(), error.ToString());
    }

    public Task<CliResult> RunAsync(params string[] args) => RunWithInputAsync(null, args);

    /// <summary>Runs a command that must succeed.</summary>
    public async Task<CliResult> SucceedWithInputAsync(string? stdin, params string[] args)
    {
        var result = await RunWithInputAsync(stdin, args);
        Assert.True(result.ExitCode == 0, $"ironauth {string.Join(' ', args)} exited {result.ExitCode}:\n{result.Error}{result.Output}");
        return result;
    }

    public Task<CliResult> SucceedAsync(params string[] args) => SucceedWithInputAsync(null, args);

    public Task<CliResult> CreateUserAsync(string username, string role = "user") =>
        SucceedWithInputAsync(Password + "\n", "users", "create", username, "--role", role, "--password-stdin");

    /// <summary>
    /// A server on the command line's store and clock. It signs with the key kept in the store (as the command
    /// line made it), not the test suite's shared configured key.
    /// </summary>
    public Task<TestServer> StartServerAsync() => TestServer.StartAsync(
        TestStore.AtSqliteFile(DatabasePath), new Dictionary<string, string?> { ["IronAuth:Jwt:Algorithm"] = "RS256" }, Time);

    public void Dispose() => directory.Dispose();
}

public sealed record CliResult(int ExitCode, string Output, string Error)
{
    public string[] OutputLines => Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public string[] ErrorLines => Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public JsonNode Json => JsonNode.Parse(Output) ?? throw new InvalidOperationException("No JSON on standard output.");

    /// <summary>Asserts a failure: exit code 1 and one line on standard error naming <paramref name="code"/>.</summary>
    public void AssertFailed(string code)
    {
        Assert.True(ExitCode == 1, $"Expected exit code 1, got {ExitCode}:\n{Error}{Output}");
        Assert.Single(ErrorLines);
        Assert.Contains($"[{code}]", Error, StringComparison.Ordinal);
    }

    /// <summary>Asserts a usage error: exit code 2, the parser's message on standard error, nothing on standard output.</summary>
    public void AssertUsageError(string message)
    {
        Assert.True(ExitCode == 2, $"Expected exit code 2, got {ExitCode}:\n{Error}{Output}");
        Assert.Contains(message, Error, StringComparison.Ordinal);
        Assert.Equal("", Output);
    }

    /// <summary>The rows of an aligned table, split on runs of two or more spaces.</summary>
    public List<string[]> Table() =>
        [.. OutputLines.Select(line => System.Text.RegularExpressions.Regex.Split(line.TrimEnd('\r'), " {2,}"))];
}
