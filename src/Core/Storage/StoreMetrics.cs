using System.Diagnostics;
using System.Diagnostics.Metrics;
using IronAuth.Core.Telemetry;

namespace IronAuth.Core.Storage;

/// <summary>
/// Counts store round trips (an SQLite statement, a Table Storage HTTP request) in the store layer, so
/// "round trips per request" is measured rather than guessed, and the optimistic-concurrency races a store
/// lost (a Table Storage 412 or 409 that made it read again). Meter <c>IronAuth.Store</c>. Also times each round
/// trip (<c>ironauth.store.operation.duration</c> by store and operation, with a span of the same name when traced)
/// and the size of each metering write (<c>ironauth.metering.batch_size</c>).
/// </summary>
/// <remarks>
/// Operations are a closed set per store: SQLite statements by their verb (<see cref="SqliteOperations"/>), Table
/// Storage requests by kind (<see cref="TableOperations"/>). Tags are made once, so a measurement allocates nothing;
/// with neither a meter listener nor a span listener, <see cref="Start"/> skips the clock too.
/// <para>
/// Round trips are counted here, per store, and published by an observable counter read at collection: a
/// statement costs one interlocked add (<see cref="StripedCounts"/>) whether or not anything listens, where a
/// listened-to counter looked its tag up in the SDK's shared store once per SQLite statement, on the metering writer
/// thread as on every request's. Lost races stay a plain counter: each is followed by a back-off sleep, and their
/// operation names are the stores' own words, not a closed set.
/// </para>
/// </remarks>
public static class StoreMetrics
{
    public const string MeterName = "IronAuth.Store";

    /// <summary>
    /// SQLite operations: statements by verb, and <c>batch</c>, one whole metering transaction (its statements are not
    /// timed one by one: they run on the single writer thread every verify waits for).
    /// </summary>
    public static readonly string[] SqliteOperations = ["select", "insert", "update", "delete", "begin", "commit", "rollback", "batch", "other"];

    public static readonly string[] TableOperations = ["read", "query", "insert", "update", "delete", "batch", "other"];

    private static readonly Meter Meter = new(MeterName);

    private static readonly double[] DurationBuckets = [0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

    private static readonly KeyValuePair<string, object?>[][] SqliteTags = Tags("sqlite", SqliteOperations);

    private static readonly KeyValuePair<string, object?>[][] TableTags = Tags("tables", TableOperations);

    private static readonly string[] SqliteSpanNames = [.. SqliteOperations.Select(o => "ironauth.store sqlite " + o)];

    private static readonly string[] TableSpanNames = [.. TableOperations.Select(o => "ironauth.store tables " + o)];

    private static readonly KeyValuePair<string, object?> SqliteStore = new("store", "sqlite");

    private static readonly KeyValuePair<string, object?> TablesStore = new("store", "tables");

    // Round trips by store: 0 SQLite, 1 Table Storage. Static as the meter is: one count per process and store.
    private static readonly StripedCounts RoundTripCounts = new(2);

    private static readonly KeyValuePair<string, object?>[][] RoundTripTags = [[SqliteStore], [TablesStore]];

    // Set on the SQLite batch writer threads (metering, budget reports), whose statements are timed as one batch (see SqliteOperations).
    [ThreadStatic]
    private static bool writerThread;

    public static ObservableCounter<long> RoundTrips { get; } = Meter.CreateObservableCounter(
        "ironauth.store.round_trips", () => RoundTripCounts.Measurements(RoundTripTags), description: "Store operations sent: SQLite statements, Table Storage requests");

    public static Counter<long> Conflicts { get; } = Meter.CreateCounter<long>("ironauth.store.conflicts", description: "Conditional writes that lost a race and were decided again");

    public static Histogram<double> OperationDuration { get; } = Meter.CreateHistogram(
        "ironauth.store.operation.duration", "s", "Time one store round trip took (an SQLite statement, a Table Storage request), by store and operation",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });

    public static Histogram<long> MeteringBatchSize { get; } = Meter.CreateHistogram(
        "ironauth.metering.batch_size", "{use}", "Token uses decided and written together in one metering write (SQLite: one transaction; Tables: one key's write)",
        advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256] });

    /// <summary>One SQLite statement was run.</summary>
    public static void SqliteRoundTrip() => RoundTripCounts.Increment(0);

    /// <summary>One Table Storage request was sent (each retry apart).</summary>
    public static void TablesRoundTrip() => RoundTripCounts.Increment(1);

    /// <summary>One round trip of <paramref name="store"/> (<c>sqlite</c> or <c>tables</c>).</summary>
    public static void RoundTrip(string store) => RoundTripCounts.Increment(store == "sqlite" ? 0 : 1);

    public static void Conflict(string store, string operation) =>
        Conflicts.Add(1, new KeyValuePair<string, object?>("store", store), new KeyValuePair<string, object?>("operation", operation));

    /// <summary>The SQLite operation of a statement (an index into <see cref="SqliteOperations"/>), from its first word.</summary>
    public static int SqliteOperation(string sql)
    {
        var text = sql.AsSpan().TrimStart();
        for (var i = 0; i < SqliteOperations.Length - 2; i++)
        {
            if (text.StartsWith(SqliteOperations[i], StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        // WITH … SELECT, PRAGMA and the like.
        return SqliteOperations.Length - 1;
    }

    /// <summary>Starts timing a round trip (and its span, when traced); <see cref="Timing.Dispose"/> records it.</summary>
    public static Timing StartSqlite(int operation) => writerThread ? default : Start(SqliteSpanNames[operation], SqliteTags[operation]);

    /// <summary>Marks the calling thread as an SQLite batch writer: from now on its statements are not timed one by one.</summary>
    public static void MarkWriterThread() => writerThread = true;

    /// <summary>Starts timing one whole group-commit transaction on a batch writer thread (operation <c>batch</c>).</summary>
    public static Timing StartSqliteBatch() => Start(SqliteSpanNames[7], SqliteTags[7]);

    public static Timing StartTables(int operation) => Start(TableSpanNames[operation], TableTags[operation]);

    /// <summary>Records the size of one metering write.</summary>
    public static void MeteringBatch(bool sqlite, int uses) => MeteringBatchSize.Record(uses, sqlite ? SqliteStore : TablesStore);

    private static Timing Start(string spanName, KeyValuePair<string, object?>[] tags)
    {
        if (!OperationDuration.Enabled && !IronAuthTracing.Source.HasListeners())
        {
            return default;
        }

        // Only as a child of something traced (a request, a step): a round trip of the SQLite metering thread or of
        // maintenance would otherwise start a trace of its own per statement.
        var activity = Activity.Current is null ? null : IronAuthTracing.Source.StartActivity(spanName, ActivityKind.Client);
        if (activity is not null)
        {
            activity.SetTag(tags[0].Key, tags[0].Value);
            activity.SetTag(tags[1].Key, tags[1].Value);
        }

        return new Timing(Stopwatch.GetTimestamp(), tags, activity);
    }

    private static KeyValuePair<string, object?>[][] Tags(string store, string[] operations) =>
        [.. operations.Select(o => new[] { new KeyValuePair<string, object?>("store", store), new KeyValuePair<string, object?>("operation", o) })];

    /// <summary>A round trip being timed; default (no tags) when nobody listens, and then disposing does nothing.</summary>
    public readonly struct Timing(long started, KeyValuePair<string, object?>[]? tags, Activity? activity) : IDisposable
    {
        public void Dispose()
        {
            if (tags is null)
            {
                return;
            }

            OperationDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags[0], tags[1]);
            activity?.Dispose();
        }
    }
}
