using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace IronAuth.Tests.Support;

/// <summary>
/// One Azurite Table service for the whole test run, shared by every test class that needs Table Storage
/// (each isolates itself with a table prefix of its own). Started on first use from the npm package pinned
/// in tests/azurite (installed by <see cref="NodePackages"/>), stopped when the test process exits.
/// </summary>
public sealed class Azurite
{
    // The well-known development account every Azurite serves; not a secret.
    private const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
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
        var directory = NodePackages.Find("azurite");
        await NodePackages.EnsureInstalledAsync(directory);
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
            var process = NodePackages.StartProcess(start, output);
            // Kill it with the test process; the PID held is the server's own (node runs main.js directly).
            AppDomain.CurrentDomain.ProcessExit += (_, _) => NodePackages.Stop(process);
            if (await WaitUntilListeningAsync(process, port, TimeSpan.FromSeconds(30)))
            {
                return new Azurite(port);
            }

            NodePackages.Stop(process);
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

    /// <summary>A loopback port nothing listens on now (the usual test-fixture race: someone could take it before us).</summary>
    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
