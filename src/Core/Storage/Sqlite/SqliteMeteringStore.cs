using IronAuth.Core.Limits;

namespace IronAuth.Core.Storage.Sqlite;

/// <summary>
/// The bucket take and the quota-checked count of one token use (<see cref="SqliteRateBucketStore"/> and
/// <see cref="SqliteUsageStore"/>: each decides in C# from its row), committed in groups by a
/// <see cref="SqliteBatchWriter{TRequest, TResult}"/>: uses that arrive together are decided in order inside one
/// BEGIN IMMEDIATE transaction and committed once, with the guarantees of the single calls, across processes too.
/// <para>
/// Rows are read only when this writer cannot know them, and each row a batch changed is written once, before the
/// commit, with its last state (<see cref="KnownRows"/>): under load from one process a batch of uses of one token is
/// two writes. A gateway's own use and the use of the token it verifies arrive as one pending item
/// (<see cref="TakeAndCountBothAsync"/>) and are decided back to back in one transaction.
/// </para>
/// </summary>
public sealed class SqliteMeteringStore : IMeteringStore, IAsyncDisposable
{
    private readonly KnownRows known = new();
    private readonly SqliteBatchWriter<(MeteringRequest First, MeteringRequest? Then), (MeteredUse First, MeteredUse? Then)> writer;

    public SqliteMeteringStore(SqliteDatabase database) =>
        writer = new(database, known, Meter, "IronAuth SQLite metering", uses => StoreMetrics.MeteringBatch(sqlite: true, uses));

    public async Task<MeteredUse> TakeAndCountAsync(
        string tokenId, EffectiveLimits limits, UsageDelta delta, DateTimeOffset now, CancellationToken cancellationToken) =>
        (await writer.EnqueueAsync((new MeteringRequest(tokenId, limits, delta, now), null), cancellationToken)).First;

    public Task<(MeteredUse First, MeteredUse? Then)> TakeAndCountBothAsync(MeteringRequest first, MeteringRequest then, CancellationToken cancellationToken) =>
        writer.EnqueueAsync((first, then), cancellationToken);

    public ValueTask DisposeAsync() => writer.DisposeAsync();

    /// <summary>
    /// A pending item, inside the batch's transaction: one token's use, or a caller's own token's and then the one it
    /// presents, the second only when the first was admitted.
    /// </summary>
    private (MeteredUse First, MeteredUse? Then) Meter(SqliteConnectionLease connection, (MeteringRequest First, MeteringRequest? Then) item)
    {
        var first = Meter(connection, item.First);
        return (first, item.Then is { } then && first.Admitted ? Meter(connection, then) : null);
    }

    /// <summary>
    /// One use, inside the batch's transaction: it reads and decides before it changes anything, so a decision that
    /// throws has changed nothing. Its bucket and day rows are written with the batch's (<see cref="KnownRows.WriteDecided"/>).
    /// </summary>
    private MeteredUse Meter(SqliteConnectionLease connection, MeteringRequest use)
    {
        // A use with an idempotency key that has counted before answers as it did then, changing nothing. The key is
        // looked up inside this transaction, so a repeat in the same batch sees the first.
        if (use.Delta.Detail?.RequestId is { } requestId && SqliteUsageDetails.Replay(connection, use.TokenId, requestId) is { } replayed)
        {
            return replayed;
        }

        var take = SqliteRateBucketStore.Decide(use.TokenId, known.Bucket(connection, use.TokenId), use.Limits.Burst, use.Limits.RequestsPerSecond, use.Now);
        UsageOutcome? usage = null;
        UsageBreakdownDay? breakdown = null;
        if (take.Outcome.Admitted)
        {
            var day = UsageDay.DayOf(use.Now);
            usage = QuotaRules.TryAdd(known.Day(connection, use.TokenId, day), use.Delta, use.Limits.Quota);
            // Detail only costs statements when a report carries it (Detail is null on the common path).
            breakdown = use.Delta.Detail is not null && usage.Added ? SqliteUsageDetails.Decide(connection, use.TokenId, day, use.Delta) : null;
        }

        known.Decided(take);
        if (usage is not null)
        {
            known.Decided(usage);
            if (use.Delta.Detail is { } detail && usage.Added)
            {
                SqliteUsageDetails.Write(connection, use.TokenId, detail, use.Now, breakdown, UsageReplay.Encode(take.Outcome, usage));
            }
        }

        return new MeteredUse(take.Outcome, usage);
    }

    /// <summary>
    /// What this writer last read or wrote of each token's bucket and current day (see <see cref="SqliteRowCache"/> for
    /// when it forgets: another process's or another local holder's write, a failed batch).
    /// </summary>
    private sealed class KnownRows : SqliteRowCache
    {
        private readonly Dictionary<string, BucketState?> buckets = new(StringComparer.Ordinal);
        private readonly Dictionary<string, UsageDay> days = new(StringComparer.Ordinal);
        // Decided in this batch and not yet written: each row once per batch, with its last state, however many of the
        // batch's uses changed it (a gateway's token is in every pair). Keyed by day too: a batch may cross midnight.
        private readonly Dictionary<string, SqliteRateBucketStore.DecidedTake> unwrittenBuckets = new(StringComparer.Ordinal);
        private readonly Dictionary<(string TokenId, DateOnly Day), UsageOutcome> unwrittenDays = [];

        protected override int Count => buckets.Count + days.Count;

        public override void Clear()
        {
            buckets.Clear();
            days.Clear();
            unwrittenBuckets.Clear();
            unwrittenDays.Clear();
        }

        public BucketState? Bucket(SqliteConnectionLease connection, string key)
        {
            if (!buckets.TryGetValue(key, out var state))
            {
                state = SqliteRateBucketStore.Read(connection, key);
                buckets[key] = state;
            }

            return state;
        }

        public UsageDay Day(SqliteConnectionLease connection, string tokenId, DateOnly day)
        {
            if (!days.TryGetValue(tokenId, out var counters) || counters.Day != day)
            {
                counters = SqliteUsageStore.Current(connection, tokenId, day);
                days[tokenId] = counters;
            }

            return counters;
        }

        public void Decided(SqliteRateBucketStore.DecidedTake take)
        {
            if (take.After is { } after)
            {
                buckets[take.Key] = after;
                unwrittenBuckets[take.Key] = take;
            }
        }

        public void Decided(UsageOutcome usage)
        {
            if (usage.Added)
            {
                days[usage.Day.TokenId] = usage.Day;
                unwrittenDays[(usage.Day.TokenId, usage.Day.Day)] = usage;
            }
        }

        public override void WriteDecided(SqliteConnectionLease connection)
        {
            foreach (var take in unwrittenBuckets.Values)
            {
                SqliteRateBucketStore.Write(connection, take);
            }

            foreach (var usage in unwrittenDays.Values)
            {
                SqliteUsageStore.Write(connection, usage);
            }

            unwrittenBuckets.Clear();
            unwrittenDays.Clear();
        }
    }
}
