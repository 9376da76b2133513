using System.Diagnostics.Metrics;
using IronAuth.Core.Telemetry;
using IronAuth.Core.Tokens;

namespace IronAuth.Tests.Unit;

public sealed class IronAuthMetricsTests
{
    // A meter factory of this test's own: a servers' SDK in this process reads only its own container's meters, so
    // nothing measured here reaches a test server's scrape, and no server's listener allocates on this thread.
    private static IronAuthMetrics NewMetrics() => new(new OwnMeters());
    private static readonly HashSet<string> LabelKeys = ["outcome", "verdict", "kind", "result"];

    [Fact]
    public void Every_label_value_is_a_fixed_lower_case_word()
    {
        Assert.All(IronAuthMetrics.LabelValues.Values.SelectMany(values => values), value => Assert.Matches("^[a-z][a-z_]*$", value));
        Assert.Equal(
            Enum.GetValues<VerdictCode>().Select(TokenVerdict.ToWire).Order(),
            IronAuthMetrics.LabelValues["ironauth.token_verifications/verdict"].Order());
    }

    [Fact]
    public void Every_measurement_carries_only_known_labels_with_known_values()
    {
        using var metrics = NewMetrics();
        var seen = new List<(string Instrument, string Key, string Value)>();
        using var listener = Listen(metrics, (instrument, tags) =>
        {
            foreach (var tag in tags)
            {
                seen.Add((instrument.Name, tag.Key, Assert.IsType<string>(tag.Value)));
            }
        });

        EmitEverything(metrics);
        // The counters are observable: their counts reach a listener when it collects.
        listener.RecordObservableInstruments();

        Assert.NotEmpty(seen);
        Assert.All(seen, tag =>
        {
            Assert.Contains(tag.Key, LabelKeys);
            Assert.Contains(tag.Value, IronAuthMetrics.LabelValues[$"{tag.Instrument}/{tag.Key}"]);
        });
        foreach (var (label, values) in IronAuthMetrics.LabelValues)
        {
            var reached = seen.Where(tag => $"{tag.Instrument}/{tag.Key}" == label).Select(tag => tag.Value).ToHashSet();
            Assert.True(reached.SetEquals(values), label);
        }
    }

    [Fact]
    public void Counting_a_verdict_allocates_nothing_with_or_without_a_listener()
    {
        using var metrics = NewMetrics();
        metrics.TokenVerified(VerdictCode.Valid);
        Assert.Equal(0, AllocatedBy(() => metrics.TokenVerified(VerdictCode.RateLimited)));

        var counted = new Dictionary<string, long>();
        using var listener = Listen(metrics, (instrument, tags, value) =>
        {
            var key = instrument.Name + string.Concat(tags.ToArray().Select(tag => $"/{tag.Value}"));
            counted[key] = value;
        });
        metrics.TokenVerified(VerdictCode.Valid);
        Assert.Equal(0, AllocatedBy(() => metrics.TokenVerified(VerdictCode.Revoked)));
        Assert.Equal(0, AllocatedBy(() => metrics.CacheLookup(CacheKind.Token, hit: true)));
        listener.RecordObservableInstruments();

        // Every count arrived, those made before the listener too (a counter reports its total).
        Assert.Equal(2, counted["ironauth.token_verifications/valid"]);
        Assert.Equal(1000, counted["ironauth.token_verifications/rate_limited"]);
        Assert.Equal(1000, counted["ironauth.token_verifications/revoked"]);
        Assert.Equal(1000, counted["ironauth.credential_cache.lookups/token/hit"]);
        Assert.Equal(4, counted.Count);
    }

    [Fact]
    public void Each_instance_reports_its_own_counts_from_threads_counting_at_once()
    {
        using var metrics = NewMetrics();
        using var other = NewMetrics();
        Parallel.For(0, 4, _ =>
        {
            for (var i = 0; i < 10_000; i++)
            {
                metrics.CacheLookup(CacheKind.Session, hit: i % 4 != 0);
                other.CacheLookup(CacheKind.Session, hit: true);
            }
        });
        metrics.Purged(PurgeKind.Sessions, 7);
        metrics.Purged(PurgeKind.Sessions, 0);

        var counted = new Dictionary<string, long>();
        using var listener = Listen(metrics, (instrument, tags, value) =>
            counted[instrument.Name + string.Concat(tags.ToArray().Select(tag => $"/{tag.Value}"))] = value);
        listener.RecordObservableInstruments();

        Assert.Equal(30_000, counted["ironauth.credential_cache.lookups/session/hit"]);
        Assert.Equal(10_000, counted["ironauth.credential_cache.lookups/session/miss"]);
        Assert.Equal(7, counted["ironauth.maintenance.purged/sessions"]);
        // Nothing counted, no series: no login happened.
        Assert.Equal(3, counted.Count);
    }

    private static long AllocatedBy(Action measure)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            measure();
        }

        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    private static void EmitEverything(IronAuthMetrics metrics)
    {
        foreach (var outcome in Enum.GetValues<LoginOutcome>())
        {
            metrics.Login(outcome);
        }

        foreach (var outcome in Enum.GetValues<RefreshOutcome>())
        {
            metrics.Refresh(outcome);
        }

        foreach (var verdict in Enum.GetValues<VerdictCode>())
        {
            metrics.TokenVerified(verdict);
        }

        foreach (var kind in Enum.GetValues<CacheKind>())
        {
            metrics.CacheLookup(kind, hit: true);
            metrics.CacheLookup(kind, hit: false);
        }

        foreach (var outcome in Enum.GetValues<MaintenanceOutcome>())
        {
            metrics.MaintenanceRun(outcome);
        }

        foreach (var kind in Enum.GetValues<PurgeKind>())
        {
            metrics.Purged(kind, 3);
        }

        metrics.PasswordHashQueued(TimeSpan.FromMilliseconds(2));
        metrics.PasswordHashed(TimeSpan.FromMilliseconds(240));
    }

    private delegate void Measured(Instrument instrument, ReadOnlySpan<KeyValuePair<string, object?>> tags);

    private delegate void MeasuredValue(Instrument instrument, ReadOnlySpan<KeyValuePair<string, object?>> tags, long value);

    // Only this instance's meter: other tests' meters share the name.
    private static MeterListener Listen(IronAuthMetrics metrics, Measured measured) =>
        Listen(metrics, (instrument, tags, _) => measured(instrument, tags));

    private static MeterListener Listen(IronAuthMetrics metrics, MeasuredValue measured)
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter, metrics.Meter))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => measured(instrument, tags, value));
        listener.SetMeasurementEventCallback<double>((instrument, _, tags, _) => measured(instrument, tags, 0));
        listener.Start();
        return listener;
    }

    private sealed class OwnMeters : IMeterFactory
    {
        private readonly List<Meter> meters = [];

        public Meter Create(MeterOptions options)
        {
            options.Scope = this;
            var meter = new Meter(options);
            meters.Add(meter);
            return meter;
        }

        public void Dispose() => meters.ForEach(meter => meter.Dispose());
    }
}
