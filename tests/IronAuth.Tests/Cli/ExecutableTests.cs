using System.Diagnostics;
using System.Net;
using IronAuth.Tests.Support;

namespace IronAuth.Tests.Cli;

/// <summary>The real <c>ironauth</c> executable: standard input, exit codes, and the server's arguments.</summary>
public sealed class ExecutableTests : IDisposable
{
    private readonly TempDirectory directory = new();

    private string DatabasePath => Path.Combine(directory.Path, "ironauth.db");

    public void Dispose() => directory.Dispose();

    [Fact]
    public async Task Admin_commands_read_standard_input_and_exit_with_0_1_or_2()
    {
        var init = await RunAsync(CliRunner.Password + "\n", "init", "--admin-username", "root", "--admin-password-stdin", "--sqlite-path", DatabasePath);
        Assert.True(init.ExitCode == 0, init.Error);
        Assert.Contains("Created admin 'root'", init.Output, StringComparison.Ordinal);

        var missing = await RunAsync(null, "users", "show", "nobody", "--sqlite-path", DatabasePath);
        Assert.Equal(1, missing.ExitCode);
        Assert.Equal("ironauth: User 'nobody' was not found. [not_found]", Assert.Single(missing.ErrorLines));

        var usage = await RunAsync(null, "users", "promote", "root", "--sqlite-path", DatabasePath);
        Assert.Equal(2, usage.ExitCode);
        Assert.Contains("Unrecognized command or argument 'promote'", usage.Error, StringComparison.Ordinal);

        // Standard input is a pipe, not a terminal: no prompt, a usage error.
        var noPassword = await RunAsync("", "users", "create", "ada", "--sqlite-path", DatabasePath);
        Assert.Equal(2, noPassword.ExitCode);
        Assert.Contains("--password-stdin", noPassword.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_takes_the_store_options_and_asp_net_core_arguments()
    {
        var init = await RunAsync(CliRunner.Password + "\n", "init", "--admin-username", "root", "--admin-password-stdin", "--sqlite-path", DatabasePath);
        Assert.True(init.ExitCode == 0, init.Error);

        await using var server = await ServerProcess.StartAsync(
            new Dictionary<string, string> { ["IronAuth:Passwords:BcryptWorkFactor"] = "4" },
            ["serve", "--urls", "http://127.0.0.1:0", "--sqlite-path", DatabasePath, "--IronAuth:Jwt:Issuer=https://from-the-command-line.example/api"]);

        var health = await server.NewClient().GetAsync("api/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        var login = await server.NewClient().PostAsync(
            "api/auth/login", HttpAssertions.Json($$"""{"username":"root","password":"{{CliRunner.Password}}"}"""));
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        var access = (await login.ReadJsonAsync())["access_token"]!.GetValue<string>();
        var payload = access.Split('.')[1];
        var claims = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(payload.PadRight(payload.Length + ((4 - (payload.Length % 4)) % 4), '=').Replace('-', '+').Replace('_', '/')));
        Assert.Contains("\"iss\":\"https://from-the-command-line.example/api\"", claims, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_is_the_default_and_configuration_arguments_reach_it()
    {
        await using var server = await ServerProcess.StartAsync(
            new Dictionary<string, string> { ["IronAuth:Passwords:BcryptWorkFactor"] = "4" },
            ["--urls", "http://127.0.0.1:0", $"--IronAuth:Sqlite:Path={DatabasePath}"]);

        Assert.Equal(HttpStatusCode.OK, (await server.NewClient().GetAsync("api/health")).StatusCode);
        Assert.True(File.Exists(DatabasePath));
    }

    [Fact]
    public async Task A_server_that_cannot_start_exits_1_with_one_line_on_standard_error()
    {
        var result = await RunAsync(null, "--urls", "http://127.0.0.1:0", "--IronAuth:Passwords:BcryptWorkFactor=99", $"--IronAuth:Sqlite:Path={DatabasePath}");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal(
            "ironauth: invalid configuration: IronAuth:Passwords:BcryptWorkFactor must be between 4 and 31 (was 99).",
            Assert.Single(result.ErrorLines));
    }

    [Fact]
    public async Task Serving_with_no_arguments_and_a_bad_setting_says_which_and_exits_1_without_a_stack_trace()
    {
        var serve = await RunAsync(null, new Dictionary<string, string>
        {
            ["IronAuth__Sqlite__Path"] = DatabasePath,
            ["IronAuth__Bootstrap__AdminUsername"] = "admin",
            ["IronAuth__Bootstrap__AdminPassword"] = "password1234",
            ["ASPNETCORE_URLS"] = "http://127.0.0.1:0",
        });

        Assert.Equal(1, serve.ExitCode);
        Assert.StartsWith("ironauth: invalid configuration: IronAuth:Bootstrap:", serve.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", serve.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("password1234", serve.Error + serve.Output, StringComparison.Ordinal);
    }

    private static Task<CliResult> RunAsync(string? stdin, params string[] args) => RunAsync(stdin, new Dictionary<string, string>(), args);

    private static async Task<CliResult> RunAsync(string? stdin, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "ironauth.dll"));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["IronAuth__Passwords__BcryptWorkFactor"] = "4";
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start ironauth.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(stdin ?? "");
        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"ironauth {string.Join(' ', args)} did not exit:\n{await error}");
        }

        return new CliResult(process.ExitCode, await output, await error);
    }
}
