using System.Globalization;
using Azure;
using Azure.Data.Tables;
using IronAuth.Bench.Tables;
using IronAuth.Core;
using IronAuth.Core.Limits;
using IronAuth.Core.Sessions;
using IronAuth.Core.Tokens;
using IronAuth.Core.Users;
using Microsoft.Extensions.DependencyInjection;

// Throughput of the Table store against a running Table endpoint (Azurite by default, see docs/storage.md):
//   dotnet run -c Release --project bench/IronAuth.Bench.Tables -- [connection string] [seconds] [concurrency,...] [hot|contention|all]
// "hot": each worker loops one hot-path operation for a fixed time. "contention": every worker takes from ONE
// bucket, (a) in a naive read / conditional-write / re-read-on-412 loop, (b) through IronAuth's metering store
// shared by all workers of one process, (c) with every worker in a process of its own (its own store, queue and
// HTTP connections), and (d) split over two processes; then checks the bucket and the counters are exact.
var connection = args.ElementAtOrDefault(0) ?? "UseDevelopmentStorage=true";
var duration = TimeSpan.FromSeconds(double.Parse(args.ElementAtOrDefault(1) ?? "5", CultureInfo.InvariantCulture));
var levels = (args.ElementAtOrDefault(2) ?? "1,16").Split(',').Select(level => int.Parse(level, CultureInfo.InvariantCulture)).ToArray();
var suite = args.ElementAtOrDefault(3) ?? "all";
var prefix = "bench" + Guid.NewGuid().ToString("N")[..8];

using var counters = new StoreCounters();
await using var services = await Bench.BuildAsync(connection, prefix);
if (suite is "hot" or "all")
{
    await HotPathsAsync();
}

if (suite is "contention" or "all")
{
    await ContentionAsync();
}

async Task HotPathsAsync()
{
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

    // All of it, as IronAuth's own endpoints do per request: signature and claims, then session and user through the
    // credential cache (a read each per cache TTL).
    async Task<Func<Task>> AuthenticateAsync()
    {
        var (sessionId, _) = await NewSessionAsync();
        var access = await accessTokens.IssueAsync(user, sessionId);
        return async () =>
        {
            var caller = await signIn.AuthenticateAsync(access.Token.AsMemory(), default);
            _ = caller.Value ?? throw new InvalidOperationException(caller.Failure!.Code);
        };
    }

    // Verifying an API token, a token per worker: credential cache warm, one metering write each.
    async Task<Func<Task>> VerifyAsync()
    {
        var issued = await services.GetRequiredService<TokenManager>().CreateAsync(
            Actor.System, new NewApiToken(user.Id, "bench", null, 30, new TokenLimits(RequestsPerSecond: 1_000_000, Burst: 1_000_000)), TokenCreator.LocalOperator, default);
        var verifier = services.GetRequiredService<TokenVerifier>();
        return async () =>
        {
            var verdict = await verifier.VerifyAsync(issued.Value!.Plaintext, 0, 0, default);
            _ = verdict.IsValid ? verdict : throw new InvalidOperationException(TokenVerdict.ToWire(verdict.Code));
        };
    }

    Console.WriteLine($"{"operation",-22} {"workers",7} {"ops/s",8} {"p50 ms",8} {"p99 ms",8} {"trips/op",9}");
    foreach (var (name, setup) in new (string, Func<Task<Func<Task>>>)[]
    {
        ("refresh rotation", RotationAsync),
        ("JWT-auth lookup", LookupAsync),
        ("AuthenticateAsync", AuthenticateAsync),
        ("API-token verify", VerifyAsync),
    })
    {
        foreach (var workers in levels)
        {
            var operations = await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => setup()));
            await Bench.RunAsync(operations, TimeSpan.FromSeconds(1)); // warm-up: connections, JIT, Azurite's caches
            var before = counters.Snapshot();
            var latencies = await Bench.RunAsync(operations, duration);
            var trips = counters.Snapshot().RoundTrips - before.RoundTrips;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name,-22} {workers,7} {latencies.Length / duration.TotalSeconds,8:F0} {Bench.Percentile(latencies, 0.50),8:F2} {Bench.Percentile(latencies, 0.99),8:F2} {(double)trips / latencies.Length,9:F2}"));
        }
    }

    Console.WriteLine();
}

async Task ContentionAsync()
{
    const int Capacity = 1_000_000_000;
    const double Refill = 0.000001;
    var limits = new EffectiveLimits(Refill, Capacity, new Quota(0, 0, 0));
    var metering = services.GetRequiredService<TableServiceClient>().GetTableClient(prefix + "Metering");

    Console.WriteLine($"{"one bucket, mode",-28} {"callers",7} {"takes/s",8} {"412/take",9} {"trips/take",11} {"p50 ms",8} {"p99 ms",8} {"exact",6}");
    foreach (var workers in levels)
    {
        // (a) The naive loop: every caller reads, decides and writes under the ETag it read; a 412 reads again at once.
        var naiveKey = "naive-" + Guid.NewGuid().ToString("N");
        await metering.AddEntityAsync(new TableEntity(naiveKey, "bucket") { ["Level"] = (double)Capacity, ["Taken"] = 0L });
        long naiveConflicts = 0, naiveTrips = 0;
        async Task NaiveTakeAsync()
        {
            while (true)
            {
                var entity = (await metering.GetEntityAsync<TableEntity>(naiveKey, "bucket")).Value;
                Interlocked.Increment(ref naiveTrips);
                entity["Level"] = entity.GetDouble("Level")!.Value - 1;
                entity["Taken"] = entity.GetInt64("Taken")!.Value + 1;
                try
                {
                    Interlocked.Increment(ref naiveTrips);
                    await metering.UpdateEntityAsync(entity, entity.ETag, TableUpdateMode.Replace);
                    return;
                }
                catch (RequestFailedException e) when (e.Status == 412)
                {
                    Interlocked.Increment(ref naiveConflicts);
                }
            }
        }

        var naive = await Bench.RunAsync([.. Enumerable.Repeat(NaiveTakeAsync, workers)], duration);
        var naiveEntity = (await metering.GetEntityAsync<TableEntity>(naiveKey, "bucket")).Value;
        Report("naive re-read on 412", workers, naive, naiveConflicts, naiveTrips,
            naiveEntity.GetInt64("Taken") == naive.Length && naiveEntity.GetDouble("Level") == Capacity - naive.Length);

        // (b)-(d) IronAuth's metering store: one process, a process per caller, two processes.
        foreach (var (mode, processes) in new[] { ("IronAuth, 1 process", 1), ("IronAuth, 2 processes", Math.Min(2, workers)), ("IronAuth, process per caller", workers) })
        {
            if (processes == 1 && mode != "IronAuth, 1 process")
            {
                continue;
            }

            var key = Ids.New(TimeProvider.System);
            var providers = new List<ServiceProvider>();
            try
            {
                for (var i = 0; i < processes; i++)
                {
                    providers.Add(await Bench.BuildAsync(connection, prefix));
                }

                var stores = providers.Select(p => p.GetRequiredService<IMeteringStore>()).ToList();
                var admitted = 0L;
                var operations = Enumerable.Range(0, workers).Select(i => (Func<Task>)(async () =>
                {
                    var use = await stores[i % processes].TakeAndCountAsync(key, limits, new UsageDelta(1, 0, 0), DateTimeOffset.UtcNow, default);
                    if (use.Usage is { Added: true })
                    {
                        Interlocked.Increment(ref admitted);
                    }
                })).ToArray();
                var before = counters.Snapshot();
                var latencies = await Bench.RunAsync(operations, duration);
                var after = counters.Snapshot();
                var today = UsageDay.DayOf(DateTimeOffset.UtcNow);
                var counted = (await services.GetRequiredService<IUsageStore>().ListAsync(key, today.AddDays(-1), today, default)).Sum(d => d.Requests);
                var level = (await metering.GetEntityAsync<TableEntity>(key, "limits")).Value.GetDouble("Level")!.Value;
                var exact = admitted == latencies.Length && counted == admitted && Math.Abs(level - (Capacity - admitted)) < 1;
                Report(mode, workers, latencies, after.Conflicts - before.Conflicts, after.RoundTrips - before.RoundTrips, exact);
            }
            finally
            {
                foreach (var provider in providers)
                {
                    await provider.DisposeAsync();
                }
            }
        }
    }

    void Report(string mode, int workers, double[] latencies, long conflicts, long trips, bool exact)
    {
        var takes = Math.Max(1, latencies.Length);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{mode,-28} {workers,7} {latencies.Length / duration.TotalSeconds,8:F0} {(double)conflicts / takes,9:F2} {(double)trips / takes,11:F2} {Bench.Percentile(latencies, 0.50),8:F2} {Bench.Percentile(latencies, 0.99),8:F2} {(exact ? "yes" : "NO"),6}"));
    }
}
