using System.Diagnostics;
using System.Diagnostics.Metrics;
using IronAuth.Core.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace IronAuth.Bench.Tables;

internal static class Bench
{
    /// <summary>A store as the hosts build it, over tables of <paramref name="prefix"/>: one per simulated process.</summary>
    public static async Task<ServiceProvider> BuildAsync(string connection, string prefix)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["IronAuth:Store"] = "tables",
            ["IronAuth:Tables:ConnectionString"] = connection,
            ["IronAuth:Tables:TablePrefix"] = prefix,
            // Contention, not slowness: a caller that loses many races in a row still gets its answer.
            ["IronAuth:Tables:ConflictRetries"] = "30",
        }).Build();
        var collection = new ServiceCollection().AddSingleton<IConfiguration>(configuration).AddLogging().AddIronAuthCore();
        collection.AddIronAuthStore(configuration);
        var services = collection.BuildServiceProvider();
        await services.GetRequiredService<IStoreLifecycle>().InitializeAsync(default);
        return services;
    }

    /// <summary>Each operation looped by its own worker until the time is up; the sorted latencies in ms.</summary>
    public static async Task<double[]> RunAsync(Func<Task>[] operations, TimeSpan duration)
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

    public static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)(sorted.Length * p))];
}

/// <summary>
/// The store layer's own counters (<see cref="StoreMetrics"/>): round trips and lost races, process-wide. Round trips
/// are an observable counter, collected (a total per store) by <see cref="Snapshot"/>.
/// </summary>
internal sealed class StoreCounters : IDisposable
{
    private readonly MeterListener listener = new();
    private long roundTrips;
    private long conflicts;

    public StoreCounters()
    {
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == StoreMetrics.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            if (instrument.Name == StoreMetrics.RoundTrips.Name)
            {
                roundTrips += value;
            }
            else if (instrument.Name == StoreMetrics.Conflicts.Name)
            {
                Interlocked.Add(ref conflicts, value);
            }
        });
        listener.Start();
    }

    public (long RoundTrips, long Conflicts) Snapshot()
    {
        lock (listener)
        {
            roundTrips = 0;
            listener.RecordObservableInstruments();
            return (roundTrips, Interlocked.Read(ref conflicts));
        }
    }

    public void Dispose() => listener.Dispose();
}
