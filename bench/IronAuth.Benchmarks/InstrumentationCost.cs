using System.Diagnostics;
using System.Globalization;
using IronAuth.Core.Storage;
using IronAuth.Core.Telemetry;
using IronAuth.Core.Tokens;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace IronAuth.Benchmarks;

/// <summary>
/// What instrumentation costs the verify path (issue 19), in one process and one run: concurrent verifies with no
/// telemetry SDK, with the SDK reading IronAuth's meters (as the server does by default, for /metrics), and with
/// every verify traced too (as with OTLP configured), in alternating rounds so machine drift hits all three alike
/// (`instrumentation sqlite --workers 32 --seconds 5 --rounds 3`). The exporters themselves discard: this measures
/// recording and collection, not a network.
/// </summary>
public static class InstrumentationCost
{
    private static readonly string[] Modes = ["off", "metrics", "metrics+traces"];

    public static async Task<int> RunAsync(string[] args)
    {
        var store = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? "sqlite";
        var workers = BcryptThroughput.Arg(args, "--workers", 32);
        var seconds = BcryptThroughput.Arg(args, "--seconds", 5);
        var rounds = BcryptThroughput.Arg(args, "--rounds", 3);
        await using var stores = await Stores.CreateAsync(store);
        var verifier = stores.Services.GetRequiredService<TokenVerifier>();
        await verifier.VerifyAsync(stores.Token, 0, 0, default);

        // A discarded warm-up round: the first seconds of a process (tiered JIT, pools) would count against "off".
        await VerifiesPerSecondAsync(verifier, stores.Token, workers, seconds);
        var results = Modes.ToDictionary(m => m, _ => new List<double>());
        for (var round = 0; round < rounds; round++)
        {
            foreach (var mode in Modes)
            {
                using var meters = mode == "off" ? null : Sdk.CreateMeterProviderBuilder()
                    .AddMeter(Environment.GetEnvironmentVariable("BENCH_METERS")?.Split(',') ?? [IronAuthMetrics.MeterName, StoreMetrics.MeterName])
                    .AddReader(new PeriodicExportingMetricReader(new Discard<Metric>(), exportIntervalMilliseconds: 1000))
                    .Build();
                using var tracer = mode != "metrics+traces" ? null : Sdk.CreateTracerProviderBuilder()
                    .AddSource(IronAuthTracing.SourceName)
                    .SetSampler(new AlwaysOnSampler())
                    .AddProcessor(new BatchActivityExportProcessor(new Discard<Activity>()))
                    .Build();
                results[mode].Add(await VerifiesPerSecondAsync(verifier, stores.Token, workers, seconds));
            }
        }

        var baseline = Median(results["off"]);
        foreach (var mode in Modes)
        {
            var median = Median(results[mode]);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{mode,-15} {median,8:F0} verifies/s (median of {rounds}: {string.Join(", ", results[mode].Select(r => r.ToString("F0", CultureInfo.InvariantCulture)))}), {(median / baseline - 1) * 100,6:+0.0;-0.0}% vs off"));
        }

        return 0;
    }

    private static async Task<double> VerifiesPerSecondAsync(TokenVerifier verifier, string token, int workers, int seconds)
    {
        long count = 0;
        var until = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        var started = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(async () =>
        {
            while (Stopwatch.GetTimestamp() < until)
            {
                // A span around each verify, as ASP.NET Core's request span is when traced, so store spans have a parent.
                using var request = IronAuthTracing.Source.StartActivity("bench.request");
                var verdict = await verifier.VerifyAsync(token, 0, 0, default);
                if (!verdict.IsValid)
                {
                    throw new InvalidOperationException(TokenVerdict.ToWire(verdict.Code));
                }

                Interlocked.Increment(ref count);
            }
        })));
        return count / started.Elapsed.TotalSeconds;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private sealed class Discard<T> : BaseExporter<T>
        where T : class
    {
        public override ExportResult Export(in Batch<T> batch) => ExportResult.Success;
    }
}
