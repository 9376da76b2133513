using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using IronAuth.Core.Storage;
using IronAuth.Core.Tokens;
using Microsoft.Extensions.DependencyInjection;

namespace IronAuth.Benchmarks;

/// <summary>Raw bcrypt verify throughput on N threads: the ceiling for logins at that work factor.</summary>
public static class BcryptThroughput
{
    public static int Run(string[] args)
    {
        var workFactor = Arg(args, "--work-factor", 12);
        var seconds = Arg(args, "--seconds", 10);
        var threads = Arg(args, "--threads", Environment.ProcessorCount);
        var hash = BCrypt.Net.BCrypt.HashPassword("benchmark-password", workFactor);
        long count = 0;
        var until = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        var workers = Enumerable.Range(0, threads).Select(_ => new Thread(() =>
        {
            while (Stopwatch.GetTimestamp() < until)
            {
                BCrypt.Net.BCrypt.Verify("benchmark-password", hash);
                Interlocked.Increment(ref count);
            }
        })).ToList();
        var started = Stopwatch.StartNew();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{count / started.Elapsed.TotalSeconds:F2}"));
        return 0;
    }

    internal static int Arg(string[] args, string name, int fallback)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
    }
}

/// <summary>Store round trips per verify, counted by the store layer's own meter.</summary>
public static class RoundTrips
{
    public static async Task<int> RunAsync(string[] args)
    {
        var store = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? "sqlite";
        var count = BcryptThroughput.Arg(args, "--count", 1000);
        await using var stores = await Stores.CreateAsync(store);
        var verifier = stores.Services.GetRequiredService<TokenVerifier>();
        await verifier.VerifyAsync(stores.Token, 0, 0, default);

        // The counter is observable: it reports the process's totals (one per store) when collected.
        long collected = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == StoreMetrics.MeterName && instrument.Name == StoreMetrics.RoundTrips.Name)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => collected += value);
        listener.Start();
        long Total()
        {
            collected = 0;
            listener.RecordObservableInstruments();
            return collected;
        }

        var before = Total();
        for (var i = 0; i < count; i++)
        {
            await verifier.VerifyAsync(stores.Token, 0, 0, default);
        }

        var trips = Total() - before;

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{(double)trips / count:F2}"));
        return 0;
    }
}

/// <summary>
/// Concurrent verifies in one process, no HTTP: verifies per second and process CPU per verify, to see what the
/// store's hot path costs apart from Kestrel (`verifies sqlite --workers 32 --seconds 5`).
/// </summary>
public static class ConcurrentVerifies
{
    public static async Task<int> RunAsync(string[] args)
    {
        var store = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? "sqlite";
        var workers = BcryptThroughput.Arg(args, "--workers", 32);
        var seconds = BcryptThroughput.Arg(args, "--seconds", 5);
        await using var stores = await Stores.CreateAsync(store);
        var verifier = stores.Services.GetRequiredService<TokenVerifier>();
        await verifier.VerifyAsync(stores.Token, 0, 0, default);

        long count = 0;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var until = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        var started = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(async () =>
        {
            while (Stopwatch.GetTimestamp() < until)
            {
                var verdict = await verifier.VerifyAsync(stores.Token, 0, 0, default);
                if (!verdict.IsValid)
                {
                    throw new InvalidOperationException(TokenVerdict.ToWire(verdict.Code));
                }

                Interlocked.Increment(ref count);
            }
        })));
        var elapsed = started.Elapsed;
        var used = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{count / elapsed.TotalSeconds:F0} verifies/s, {used.TotalMicroseconds / count:F1} µs CPU each ({workers} workers)"));
        return 0;
    }
}
