using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.RegularExpressions;

namespace IronAuth.Tests.Support;

/// <summary>
/// The real <c>ironauth</c> executable in a child process: for tests about several processes sharing one
/// store. Readiness is the server's own "Now listening on" line, which also carries the port it bound.
/// </summary>
public sealed partial class ServerProcess : IAsyncDisposable
{
    private readonly Process process;

    private readonly System.Collections.Concurrent.ConcurrentQueue<string> output;

    private ServerProcess(Process process, Uri baseAddress, System.Collections.Concurrent.ConcurrentQueue<string> output)
    {
        this.process = process;
        BaseAddress = baseAddress;
        this.output = output;
    }

    public Uri BaseAddress { get; }

    /// <summary>Everything the process wrote to standard output and error so far (its log lines).</summary>
    public string Output => string.Join('\n', output);

    /// <summary>Starts <c>ironauth</c> with <paramref name="arguments"/> (by default only a free loopback port).</summary>
    public static async Task<ServerProcess> StartAsync(IDictionary<string, string> settings, IReadOnlyList<string>? arguments = null)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "ironauth.dll"));
        foreach (var argument in arguments ?? ["--urls=http://127.0.0.1:0"])
        {
            info.ArgumentList.Add(argument);
        }

        // Quiet by default; a test may ask for more (settings come after these defaults).
        info.Environment["Logging__LogLevel__Default"] = "Warning";
        info.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information";
        foreach (var (key, value) in settings)
        {
            info.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start ironauth.");
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                listening.TrySetException(new InvalidOperationException("ironauth exited before listening:\n" + string.Join('\n', output)));
                return;
            }

            output.Enqueue(e.Data);
            if (ListeningLine().Match(e.Data) is { Success: true } match)
            {
                listening.TrySetResult(new Uri(match.Groups[1].Value + "/"));
            }
        };
        process.ErrorDataReceived += (_, e) => output.Enqueue(e.Data ?? "");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            return new ServerProcess(process, await listening.Task.WaitAsync(TimeSpan.FromSeconds(60)), output);
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Settings for a server process on <paramref name="store"/>: a bootstrap admin named <c>admin</c> with
    /// <see cref="TestServer.AdminPassword"/>, cheap bcrypt, then <paramref name="extra"/>, then the store's own.
    /// </summary>
    public static Dictionary<string, string> SettingsFor(TestStore store, IReadOnlyDictionary<string, string>? extra = null)
    {
        var settings = new Dictionary<string, string>
        {
            ["IronAuth:Passwords:BcryptWorkFactor"] = "4",
            ["IronAuth:Bootstrap:AdminUsername"] = "admin",
            ["IronAuth:Bootstrap:AdminPassword"] = TestServer.AdminPassword,
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
        {
            settings[key] = value;
        }

        foreach (var (key, value) in store.Settings)
        {
            settings[key] = value!;
        }

        return settings;
    }

    /// <summary>An access token of the bootstrap admin <see cref="SettingsFor"/> configures.</summary>
    public async Task<string> LoginAdminAsync()
    {
        var login = await (await NewClient().PostAsJsonAsync("api/auth/login", new { username = "admin", password = TestServer.AdminPassword })).ReadJsonAsync();
        return login["access_token"]!.GetValue<string>();
    }

    public HttpClient NewClient(string? bearer = null)
    {
        var client = new HttpClient { BaseAddress = BaseAddress };
        if (bearer is not null)
        {
            client.DefaultRequestHeaders.Authorization = new("Bearer", bearer);
        }

        return client;
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        process.Dispose();
    }

    [GeneratedRegex(@"Now listening on: (http://127\.0\.0\.1:\d+)")]
    private static partial Regex ListeningLine();
}
