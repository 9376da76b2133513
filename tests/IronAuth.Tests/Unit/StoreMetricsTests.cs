using System.Diagnostics.Metrics;
using IronAuth.Core.Storage;

namespace IronAuth.Tests.Unit;

public sealed class StoreMetricsTests
{
    [Fact]
    public void Round_trips_are_counted_by_store_and_reported_when_a_reader_collects()
    {
        var before = RoundTrips();
        for (var i = 0; i < 100; i++)
        {
            StoreMetrics.SqliteRoundTrip();
        }

        for (var i = 0; i < 30; i++)
        {
            StoreMetrics.TablesRoundTrip();
        }

        var after = RoundTrips();

        // The counts are per process and other tests use stores at the same time: at least ours arrived.
        Assert.True(after["sqlite"] - before.GetValueOrDefault("sqlite") >= 100);
        Assert.True(after["tables"] - before.GetValueOrDefault("tables") >= 30);
        Assert.Equal(["sqlite", "tables"], after.Keys.Order());
    }

    [Fact]
    public void Counting_a_round_trip_allocates_nothing_while_a_reader_listens()
    {
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == StoreMetrics.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.Start();
        StoreMetrics.SqliteRoundTrip();

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            StoreMetrics.SqliteRoundTrip();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private static Dictionary<string, long> RoundTrips()
    {
        var counts = new Dictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument, StoreMetrics.RoundTrips))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            Assert.Equal("store", Assert.Single(tags.ToArray()).Key);
            counts[(string)tags[0].Value!] = value;
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return counts;
    }
}
