using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using IronAuth.Tests.Support.FunctionsHost;

// Usage: IronAuth.Bench.Functions --ironauth <published app> --bare <published app> [--rounds 5] [--seconds 5] [--connections 16]
// Prints a Markdown report. Cold start: stand-in start (Kestrel, then the worker process, handshake, function loads)
// to the first 200 through the stand-in (IronAuth: /api/health, which answers 200 only once start-up has run; bare:
// its one function), alternating the two apps, median of the rounds after one unmeasured start of each. Throughput:
// GET /api/auth/me (IronAuth with an access JWT) through the stand-in, from HttpClient loops in this process.
var options = args.Chunk(2).ToDictionary(pair => pair[0].TrimStart('-'), pair => pair[1]);
var ironauth = options["ironauth"];
var bare = options["bare"];
var rounds = int.Parse(options.GetValueOrDefault("rounds", "5"), CultureInfo.InvariantCulture);
var seconds = double.Parse(options.GetValueOrDefault("seconds", "5"), CultureInfo.InvariantCulture);
var connections = int.Parse(options.GetValueOrDefault("connections", "16"), CultureInfo.InvariantCulture);

var work = Directory.CreateTempSubdirectory("ironauth-bench-functions");
const string AdminPassword = "bench-admin-password-for-functions";
var ironauthSettings = new Dictionary<string, string?>
{
    ["IronAuth:Store"] = "sqlite",
    ["IronAuth:Sqlite:Path"] = Path.Combine(work.FullName, "ironauth.db"),
    ["IronAuth:Bootstrap:AdminUsername"] = "admin",
    ["IronAuth:Bootstrap:AdminPassword"] = AdminPassword,
    ["IronAuth:Maintenance:Schedule"] = "0 */5 * * * *",
    ["Logging:LogLevel:Default"] = "Warning",
};
var bareSettings = new Dictionary<string, string?> { ["Logging:LogLevel:Default"] = "Warning" };

try
{
    // One unmeasured start of each: IronAuth's creates the store (schema, admin, signing key); both warm the disk cache.
    await ColdStartAsync(ironauth, ironauthSettings, "api/health");
    await ColdStartAsync(bare, bareSettings, "api/auth/me");
    var ironauthStarts = new List<double>();
    var bareStarts = new List<double>();
    for (var round = 0; round < rounds; round++)
    {
        ironauthStarts.Add(await ColdStartAsync(ironauth, ironauthSettings, "api/health"));
        bareStarts.Add(await ColdStartAsync(bare, bareSettings, "api/auth/me"));
    }

    var (ironauthRate, ironauthRss) = await ThroughputAsync(ironauth, ironauthSettings, async client =>
    {
        var login = await client.PostAsJsonAsync("api/auth/login", new { username = "admin", password = AdminPassword });
        login.EnsureSuccessStatusCode();
        return JsonNode.Parse(await login.Content.ReadAsStringAsync())!["access_token"]!.GetValue<string>();
    });
    var (bareRate, bareRss) = await ThroughputAsync(bare, bareSettings, _ => Task.FromResult<string?>(null));

    var ironauthMedian = Median(ironauthStarts);
    var bareMedian = Median(bareStarts);
    Console.WriteLine($"| measurement | IronAuth.Functions | bare isolated app | ratio |");
    Console.WriteLine($"|---|---|---|---|");
    Console.WriteLine($"| start to first 200 through the stand-in, median of {rounds} (ms) | {ironauthMedian:F0} | {bareMedian:F0} | {ironauthMedian / bareMedian:F2}× |");
    Console.WriteLine($"| start to first 200, every round (ms) | {string.Join(", ", ironauthStarts.Select(s => s.ToString("F0", CultureInfo.InvariantCulture)))} | {string.Join(", ", bareStarts.Select(s => s.ToString("F0", CultureInfo.InvariantCulture)))} | |");
    Console.WriteLine($"| GET /api/auth/me through the stand-in, {connections} connections, {seconds:F0} s (req/s) | {ironauthRate:F0} | {bareRate:F0} | {100 * ironauthRate / bareRate:F0}% |");
    Console.WriteLine($"| worker RSS after the load (MiB) | {ironauthRss:F0} | {bareRss:F0} | |");
}
finally
{
    work.Delete(recursive: true);
}

static async Task<double> ColdStartAsync(string app, IReadOnlyDictionary<string, string?> settings, string path)
{
    var clock = Stopwatch.StartNew();
    await using var host = await StandInHost.StartAsync(new StandInOptions { AppDirectory = app, Settings = settings, Log = Console.Error.WriteLine });
    using var client = new HttpClient { BaseAddress = host.BaseAddress };
    while ((await client.GetAsync(path)).StatusCode != HttpStatusCode.OK)
    {
        if (clock.Elapsed > TimeSpan.FromSeconds(60))
        {
            throw new TimeoutException($"{app} answered no 200 on {path} within 60 s.");
        }

        // Polling the process start, as a platform probe would.
        await Task.Delay(5);
    }

    return clock.Elapsed.TotalMilliseconds;
}

async Task<(double RequestsPerSecond, double RssMiB)> ThroughputAsync(
    string app, IReadOnlyDictionary<string, string?> settings, Func<HttpClient, Task<string?>> signIn)
{
    await using var host = await StandInHost.StartAsync(new StandInOptions { AppDirectory = app, Settings = settings, Log = Console.Error.WriteLine });
    using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = connections }) { BaseAddress = host.BaseAddress };
    while ((await client.GetAsync("api/health")).StatusCode is HttpStatusCode.ServiceUnavailable)
    {
        await Task.Delay(5);
    }

    if (await signIn(client) is { } bearer)
    {
        client.DefaultRequestHeaders.Authorization = new("Bearer", bearer);
    }

    await LoadAsync(client, TimeSpan.FromSeconds(2));
    var (ok, elapsed) = await LoadAsync(client, TimeSpan.FromSeconds(seconds));
    using var worker = Process.GetProcessById(host.WorkerProcessId);
    return (ok / elapsed.TotalSeconds, worker.WorkingSet64 / 1024.0 / 1024.0);
}

async Task<(long Ok, TimeSpan Elapsed)> LoadAsync(HttpClient client, TimeSpan duration)
{
    long ok = 0;
    var clock = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, connections).Select(async _ =>
    {
        while (clock.Elapsed < duration)
        {
            using var response = await client.GetAsync("api/auth/me");
            if (response.StatusCode != HttpStatusCode.OK)
            {
                throw new InvalidOperationException($"/api/auth/me answered {(int)response.StatusCode}.");
            }

            Interlocked.Increment(ref ok);
        }
    }));
    return (ok, clock.Elapsed);
}

static double Median(List<double> values)
{
    var sorted = values.Order().ToList();
    return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
}
