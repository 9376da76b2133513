using System.ComponentModel;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace IronAuth.Tests.Support;

/// <summary>
/// One Azurite Table service for the whole test run, shared by every test class that needs Table Storage
/// (each isolates itself with a table prefix of its own). Started on first use from the npm package pinned
/// in tests/azurite (installed with <c>npm ci</c> when missing), stopped when the test process exits.
/// Without Node.js and npm the tests that need it fail and say what to install; they are never skipped.
/// </summary>
public sealed class Azurite
{
    // The well-known development account every Azurite serves; not a secret.
    private const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    private const string MissingNode =
        "The Table Storage tests run Azurite, which needs Node.js (20 or newer) and npm on PATH. "
        + "Install them (Debian/Ubuntu: apt-get install nodejs npm) and run the tests again.";

    private static readonly Lazy<Task<Azurite>> Shared = new(StartAsync);

    private Azurite(int port) => Port = port;

    public int Port { get; }

    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AccountKey};TableEndpoint=http://127.0.0.1:{Port}/devstoreaccount1;";

    /// <summary>The shared instance, started by the first caller; a failed start fails every caller with the same message.</summary>
    public static Task<Azurite> GetAsync() => Shared.Value;

    /// <summary>Settings for a fresh, empty IronAuth store on this Azurite: tables of a prefix nobody else uses.</summary>
    public IDictionary<string, string?> NewStoreSettings() => new Dictionary<string, string?>
    {
        ["IronAuth:Store"] = "tables",
        ["IronAuth:Tables:ConnectionString"] = ConnectionString,
        ["IronAuth:Tables:TablePrefix"] = "t" + Guid.NewGuid().ToString("N")[..16],
    };

    private static async Task<Azurite> StartAsync()
    {
        var directory = FindPackageDirectory();
        await EnsureInstalledAsync(directory);
        var main = Path.Combine(directory, "node_modules", "azurite", "dist", "src", "table", "main.js");

        // A free port can be taken between choosing it and Azurite binding it; then try another.
        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort();
            var start = new ProcessStartInfo("node")
            {
                // Nothing is written to disk with --inMemoryPersistence; the working directory is only where Azurite would.
                WorkingDirectory = Path.GetTempPath(),
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in new[] { main, "--inMemoryPersistence", "--disableTelemetry", "--tableHost", "127.0.0.1", "--tablePort", port.ToString(System.Globalization.CultureInfo.InvariantCulture) })
            {
                start.ArgumentList.Add(arg);
            }

            var output = new StringBuilder();
            var process = StartProcess(start, output);
            // Kill it with the test process; the PID held is the server's own (node runs main.js directly).
            AppDomain.CurrentDomain.ProcessExit += (_, _) => Stop(process);
            if (await WaitUntilListeningAsync(process, port, TimeSpan.FromSeconds(30)))
            {
                return new Azurite(port);
            }

            Stop(process);
            if (attempt == 3)
            {
                throw new InvalidOperationException($"Azurite did not start listening on 127.0.0.1:{port}. Its output:\n{output}");
            }
        }
    }

    /// <summary>Readiness is the port answering, polled; Azurite starts in about a second.</summary>
    private static async Task<bool> WaitUntilListeningAsync(Process process, int port, TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline && !process.HasExited)
        {
            using var client = new TcpClient();
            try
            {
                await client.ConnectAsync(IPAddress.Loopback, port);
                return true;
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }

        return false;
    }

    /// <summary>
    /// Runs <c>npm ci</c> unless node_modules matches the committed lock file. A file lock serializes the
    /// install across test processes that start at once (in one process the Lazy already does).
    /// </summary>
    private static async Task EnsureInstalledAsync(string directory)
    {
        var lockFile = Path.Combine(directory, "package-lock.json");
        var expected = Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(lockFile)));
        var marker = Path.Combine(directory, "node_modules", ".ironauth-installed");
        if (IsInstalled(marker, expected))
        {
            return;
        }

        var lockPath = Path.Combine(Path.GetTempPath(), $"ironauth-azurite-{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(directory)))[..16]}.lock");
        await using var installLock = await AcquireAsync(lockPath, TimeSpan.FromMinutes(10));
        if (IsInstalled(marker, expected))
        {
            return; // Another process installed it while this one waited.
        }

        var start = new ProcessStartInfo("npm")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "ci", "--no-audit", "--no-fund", "--loglevel=error" })
        {
            start.ArgumentList.Add(arg);
        }

        var output = new StringBuilder();
        using var npm = StartProcess(start, output);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        try
        {
            await npm.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Stop(npm);
            throw new InvalidOperationException($"npm ci in {directory} did not finish within 10 minutes. Its output:\n{output}");
        }

        if (npm.ExitCode != 0)
        {
            throw new InvalidOperationException($"npm ci in {directory} failed with exit code {npm.ExitCode}. Its output:\n{output}");
        }

        await File.WriteAllTextAsync(marker, expected);
    }

    private static bool IsInstalled(string marker, string lockHash) =>
        File.Exists(marker) && File.ReadAllText(marker) == lockHash;

    private static async Task<FileStream> AcquireAsync(string path, TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            try
            {
                // FileShare.None is an exclusive lock on the open file (flock on Unix), released when the stream closes.
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (Stopwatch.GetTimestamp() < deadline)
            {
                await Task.Delay(200);
            }
        }
    }

    private static Process StartProcess(ProcessStartInfo start, StringBuilder output)
    {
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"{start.FileName} did not start.");
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException($"{MissingNode} ({start.FileName}: {e.Message})", e);
        }

        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is not null)
        {
            lock (output)
            {
                output.AppendLine(line);
            }
        }
    }

    private static void Stop(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    /// <summary>A loopback port nothing listens on now (the usual test-fixture race: someone could take it before us).</summary>
    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string FindPackageDirectory()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "tests", "azurite");
            if (File.Exists(Path.Combine(candidate, "package-lock.json")))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException($"tests/azurite/package-lock.json was not found above {AppContext.BaseDirectory}.");
    }
}
