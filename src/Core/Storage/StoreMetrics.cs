using System.Diagnostics.Metrics;

namespace IronAuth.Core.Storage;

/// <summary>
/// Counts store round trips (an SQLite statement, a Table Storage HTTP request) in the store layer, so
/// "round trips per request" is measured rather than guessed, and the optimistic-concurrency races a store
/// lost (a Table Storage 412 or 409 that made it read again). Meter <c>IronAuth.Store</c>.
/// </summary>
public static class StoreMetrics
{
    public const string MeterName = "IronAuth.Store";

    private static readonly Meter Meter = new(MeterName);

    public static Counter<long> RoundTrips { get; } = Meter.CreateCounter<long>("ironauth.store.round_trips", description: "Store operations sent: SQLite statements, Table Storage requests");

    public static Counter<long> Conflicts { get; } = Meter.CreateCounter<long>("ironauth.store.conflicts", description: "Conditional writes that lost a race and were decided again");

    public static void RoundTrip(string store) => RoundTrips.Add(1, new KeyValuePair<string, object?>("store", store));

    public static void Conflict(string store, string operation) =>
        Conflicts.Add(1, new KeyValuePair<string, object?>("store", store), new KeyValuePair<string, object?>("operation", operation));
}
