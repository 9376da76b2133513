using System.Diagnostics.Metrics;

namespace IronAuth.Core.Storage;

/// <summary>
/// Counts store round trips (an SQLite statement, a Table Storage HTTP request) in the store layer, so
/// "round trips per request" is measured rather than guessed. Meter <c>IronAuth.Store</c>.
/// </summary>
public static class StoreMetrics
{
    public const string MeterName = "IronAuth.Store";

    private static readonly Meter Meter = new(MeterName);

    public static Counter<long> RoundTrips { get; } = Meter.CreateCounter<long>("ironauth.store.round_trips", description: "Store operations sent: SQLite statements, Table Storage requests");

    public static void RoundTrip(string store) => RoundTrips.Add(1, new KeyValuePair<string, object?>("store", store));
}
