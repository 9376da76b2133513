using System.Diagnostics;
using System.Globalization;
using IronAuth.Core;
using IronAuth.Core.Sessions;
using IronAuth.Core.Storage;
using IronAuth.Core.Users;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

// Throughput of the Table store's hot paths against a running Table endpoint (Azurite by default, see
// docs/storage.md), each worker looping one operation for a fixed time:
//   dotnet run -c Release --project bench/IronAuth.Bench.Tables -- [connection string] [seconds] [concurrency,...]
var connection = args.ElementAtOrDefault(0) ?? "UseDevelopmentStorage=true";
var duration = TimeSpan.FromSeconds(double.Parse(args.ElementAtOrDefault(1) ?? "5", CultureInfo.InvariantCulture));
var levels = (args.ElementAtOrDefault(2) ?? "1,16").Split(',').Select(level => int.Parse(level, CultureInfo.InvariantCulture)).ToArray();

var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
{
    ["IronAuth:Store"] = "tables",
    ["IronAuth:Tables:ConnectionString"] = connection,
    ["IronAuth:Tables:TablePrefix"] = "bench" + Guid.NewGuid().ToString("N")[..8],
}).Build();
var collection = new ServiceCollection().AddSingleton<IConfiguration>(configuration).AddLogging().AddIronAuthCore();
collection.AddIronAuthStore(configuration);
await using var services = collection.BuildServiceProvider();
await services.GetRequiredService<IStoreLifecycle>().InitializeAsync(default);

var time = TimeProvider.System;
var users = services.GetRequiredService<IUserStore>();
var sessions = services.GetRequiredService<ISessionStore>();
var accessTokens = services.GetRequiredService<AccessTokens>();
var signIn = services.GetRequiredService<SignInManager>();
var start = time.GetUtcNow();
var user = new User
{
    Id = Ids.New(time),
    Username = "bench-" + Guid.NewGuid().ToString("N")[..8],
    Role = Role.User,
    PasswordHash = "$2a$04$notarealhashnotarealhashnotarealhashnotarealhashnot",
    CreatedAt = start,
    UpdatedAt = start,
};
await users.CreateAsync(user, default);

async Task<(string SessionId, string Token)> NewSessionAsync()
{
    var now = time.GetUtcNow();
    var session = new Session { Id = Ids.New(time), UserId = user.Id, CreatedAt = now, ExpiresAt = now.AddDays(30) };
    var token = RefreshTokens.New(session.Id);
    await sessions.CreateAsync(session, new RefreshTokenRecord(Ids.Digest(token), session.Id, now, session.ExpiresAt), default);
    return (session.Id, token);
}

// A refresh rotation: spend the presented token, add its successor, extend the session (one transaction).
async Task<Func<Task>> RotationAsync()
{
    var (sessionId, token) = await NewSessionAsync();
    return async () =>
    {
        var now = time.GetUtcNow();
        var next = RefreshTokens.New(sessionId);
        var outcome = await sessions.RotateAsync(
            sessionId, Ids.Digest(token), new RefreshTokenRecord(Ids.Digest(next), sessionId, now, now.AddDays(30)), now, default);
        token = outcome == RotationOutcome.Rotated ? next : throw new InvalidOperationException($"Rotation gave {outcome}.");
    };
}

// The store's part of authenticating a JWT: the session's point read, then the user's.
async Task<Func<Task>> LookupAsync()
{
    var (sessionId, _) = await NewSessionAsync();
    return async () =>
    {
        _ = await sessions.FindAsync(sessionId, default) ?? throw new InvalidOperationException("No session.");
        _ = await users.FindByIdAsync(user.Id, default) ?? throw new InvalidOperationException("No user.");
    };
}

// All of it, as IronAuth's own endpoints do per request: signature and claims, then both reads.
async Task<Func<Task>> AuthenticateAsync()
{
    var (sessionId, _) = await NewSessionAsync();
    var access = await accessTokens.IssueAsync(user, sessionId);
    return async () =>
    {
        var caller = await signIn.AuthenticateAsync(access.Token, default);
        _ = caller.Value ?? throw new InvalidOperationException(caller.Failure!.Code);
    };
}

Console.WriteLine($"{"operation",-22} {"workers",7} {"ops/s",8} {"p50 ms",8} {"p99 ms",8}");
foreach (var (name, setup) in new (string, Func<Task<Func<Task>>>)[]
{
    ("refresh rotation", RotationAsync),
    ("JWT-auth lookup", LookupAsync),
    ("AuthenticateAsync", AuthenticateAsync),
})
{
    foreach (var workers in levels)
    {
        var operations = await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => setup()));
        await RunAsync(operations, TimeSpan.FromSeconds(1)); // warm-up: connections, JIT, Azurite's caches
        var latencies = await RunAsync(operations, duration);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name,-22} {workers,7} {latencies.Length / duration.TotalSeconds,8:F0} {Percentile(latencies, 0.50),8:F2} {Percentile(latencies, 0.99),8:F2}"));
    }
}

static async Task<double[]> RunAsync(Func<Task>[] operations, TimeSpan duration)
{
    var stopAt = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
    var perWorker = await Task.WhenAll(operations.Select(async operation =>
    {
        var latencies = new List<double>();
        while (Stopwatch.GetTimestamp() < stopAt)
        {
            var started = Stopwatch.GetTimestamp();
            await operation();
            latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }

        return latencies;
    }));
    return [.. perWorker.SelectMany(l => l).Order()];
}

static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)(sorted.Length * p))];
