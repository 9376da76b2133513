using System.Collections.Concurrent;
using IronAuth.Core.Limits;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace IronAuth.Core.Storage.Sqlite;

/// <summary>
/// The bucket take and the quota-checked count of one token use (<see cref="SqliteRateBucketStore"/> and
/// <see cref="SqliteUsageStore"/>: each reads its row, decides in C# and writes), run back to back on the write
/// connection. Uses that arrive together are committed together: one writer loop takes every use waiting, runs them
/// in order inside one BEGIN IMMEDIATE transaction and commits once, so the commit and the hand-over of the writer
/// are paid per batch rather than per use. The transaction holds the database's write lock from the first read to
/// the commit, so the guarantees are those of the single calls, across processes too; and no caller hears its
/// result before the transaction holding it has committed. A batch holds the uses of many callers, so each use reads
/// and decides before it writes anything: a use whose decision throws has changed nothing and fails alone, and only a
/// failure of the database itself fails the batch (issue 13: one user's limits once failed everyone's requests).
/// <para>
/// Rows are read only when this writer cannot know them, and each row a batch changed is written once, before the
/// commit, with its last state (<see cref="KnownRows"/>): under load from one process a batch of uses of one token is
/// two writes. A gateway's own use and the use of the token it verifies arrive as one pending item
/// (<see cref="TakeAndCountBothAsync"/>) and are decided back to back in one transaction.
/// </para>
/// </summary>
/// <remarks>
/// The loop has a thread of its own rather than a pool thread: every token use waits for it, and under load a pool
/// thread's continuation queues behind the very requests that wait for it. Callers enqueue without a lock and
/// wake the thread only when it has gone idle.
/// </remarks>
public sealed class SqliteMeteringStore : IMeteringStore, IAsyncDisposable
{
    private const int MaxBatch = 256;
    // Before it sleeps, the writer yields its core this many times, looking for work in between: waking a sleeping
    // thread from another core is what a batch cost most on a small VM (two wake-ups, ~48 µs, in `perf bench sched
    // pipe` on the 2-core bench machine), and yielding costs nothing while anything else wants the core.
    private const int YieldsBeforeSleep = 20;
    private const string DataVersion = "PRAGMA data_version;";
    private readonly SqliteDatabase database;
    private readonly KnownRows known = new();
    private readonly ConcurrentQueue<PendingUse> pending = new();
    // Not spinning in the event before it sleeps: on a machine with few cores a spinning writer takes CPU from the
    // requests it is waiting for (yielding, above, gives it to them).
    private readonly ManualResetEventSlim wake = new(false, spinCount: 0);
    private readonly TaskCompletionSource stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool completed;
    private int idle;

    public SqliteMeteringStore(SqliteDatabase database)
    {
        this.database = database;
        new Thread(WriteLoop) { IsBackground = true, Name = "IronAuth SQLite metering" }.Start();
    }

    public Task<MeteredUse> TakeAndCountAsync(
        string tokenId, EffectiveLimits limits, UsageDelta delta, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var use = new PendingUse(new MeteringRequest(tokenId, limits, delta, now), null, cancellationToken);
        Enqueue(use);
        return use.Single!.Task;
    }

    public Task<(MeteredUse First, MeteredUse? Then)> TakeAndCountBothAsync(MeteringRequest first, MeteringRequest then, CancellationToken cancellationToken)
    {
        var use = new PendingUse(first, then, cancellationToken);
        Enqueue(use);
        return use.Pair!.Task;
    }

    private void Enqueue(PendingUse use)
    {
        ObjectDisposedException.ThrowIf(completed, this);
        pending.Enqueue(use);
        Wake();
    }

    public async ValueTask DisposeAsync()
    {
        completed = true;
        Wake();
        await stopped.Task;
    }

    private void WriteLoop()
    {
        // Every verify waits for this thread: its statements are timed once per batch, not one by one.
        StoreMetrics.MarkMeteringThread();
        var batch = new List<PendingUse>(MaxBatch);
        var yields = 0;
        while (true)
        {
            while (batch.Count < MaxBatch && pending.TryDequeue(out var use))
            {
                if (use.CancellationToken.IsCancellationRequested)
                {
                    use.Cancel();
                }
                else
                {
                    batch.Add(use);
                }
            }

            if (batch.Count > 0)
            {
                yields = 0;
                WriteBatchAsync(batch).GetAwaiter().GetResult();
                batch.Clear();
                continue;
            }

            if (completed)
            {
                break;
            }

            if (yields++ < YieldsBeforeSleep)
            {
                Thread.Yield();
                continue;
            }

            yields = 0;
            // Announce idleness, then look again: a caller that enqueued before seeing the announcement is found
            // here; one that saw it takes it back and sets the event, which must then be consumed.
            Volatile.Write(ref idle, 1);
            if ((!pending.IsEmpty || completed) && Interlocked.Exchange(ref idle, 0) == 1)
            {
                continue;
            }

            wake.Wait();
            wake.Reset();
        }

        // A caller that raced disposal past its check gets an answer rather than waiting forever.
        while (pending.TryDequeue(out var late))
        {
            late.Fail(new ObjectDisposedException(nameof(SqliteMeteringStore)));
        }

        stopped.SetResult();
    }

    private void Wake()
    {
        if (Interlocked.Exchange(ref idle, 0) == 1)
        {
            wake.Set();
        }
    }

    private async Task WriteBatchAsync(List<PendingUse> batch)
    {
        StoreMetrics.MeteringBatch(sqlite: true, batch.Count);
        using var timing = StoreMetrics.StartSqliteBatch();
        var results = new (MeteredUse First, MeteredUse? Then)[batch.Count];
        var failures = new Exception?[batch.Count];
        try
        {
            await using var connection = await database.WriteAsync(CancellationToken.None);
            await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, CancellationToken.None);
            known.Validate(database.WriteLeases, connection.Statement(DataVersion).Single(row => raw.sqlite3_column_int64(row, 0)));
            for (var i = 0; i < batch.Count; i++)
            {
                // A use whose decision throws (limits or usage no boundary should have let through) fails alone, having
                // changed nothing: one caller's input must never fail the uses of others that share its transaction.
                // Only the database itself failing (a SqliteException: I/O, a full disk, a lock) fails the batch.
                try
                {
                    var first = Meter(connection, batch[i].First);
                    results[i] = (first, batch[i].Then is { } then && first.Admitted ? Meter(connection, then) : null);
                }
                catch (Exception e) when (e is not SqliteException)
                {
                    failures[i] = e;
                }
            }

            known.WriteDecided(connection);
            await transaction.CommitAsync();
        }
        catch (Exception e)
        {
            // Nothing of the batch was committed: every use in it fails, none is half-counted, and what this writer
            // knew of the rows it had decided is no longer what is stored.
            known.Clear();
            foreach (var use in batch)
            {
                use.Fail(e);
            }

            return;
        }

        for (var i = 0; i < batch.Count; i++)
        {
            if (failures[i] is { } failure)
            {
                batch[i].Fail(failure);
            }
            else
            {
                batch[i].Complete(results[i]);
            }
        }
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
    /// What this writer last read or wrote of each token's bucket and current day, so that a use reads nothing when
    /// nobody else has written since: no other connection (another process: SQLite's <c>PRAGMA data_version</c>, read
    /// inside the batch's transaction, which holds the write lock) and no other holder of this process's write
    /// connection (<see cref="SqliteDatabase.WriteLeases"/>: usage recorded after the fact, throttles, maintenance).
    /// Either forgets everything, as does a batch that fails. Exactness is therefore that of reading every row.
    /// </summary>
    private sealed class KnownRows
    {
        private const int MaxRows = 100_000;
        private readonly Dictionary<string, BucketState?> buckets = new(StringComparer.Ordinal);
        private readonly Dictionary<string, UsageDay> days = new(StringComparer.Ordinal);
        // Decided in this batch and not yet written: each row once per batch, with its last state, however many of the
        // batch's uses changed it (a gateway's token is in every pair). Keyed by day too: a batch may cross midnight.
        private readonly Dictionary<string, SqliteRateBucketStore.DecidedTake> unwrittenBuckets = new(StringComparer.Ordinal);
        private readonly Dictionary<(string TokenId, DateOnly Day), UsageOutcome> unwrittenDays = [];
        private long leases = -1;
        private long dataVersion = -1;

        /// <summary>Called first in each batch's transaction, with the lease it holds and the connection's data version.</summary>
        public void Validate(long leasesNow, long dataVersionNow)
        {
            if (leasesNow != leases + 1 || dataVersionNow != dataVersion || buckets.Count + days.Count > MaxRows)
            {
                Clear();
            }

            leases = leasesNow;
            dataVersion = dataVersionNow;
        }

        public void Clear()
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

        /// <summary>Writes every row the batch changed, once, before it commits.</summary>
        public void WriteDecided(SqliteConnectionLease connection)
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

    /// <summary>A use waiting for the writer: one token's, or a caller's own token's and then the one it presents.</summary>
    private sealed class PendingUse(MeteringRequest first, MeteringRequest? then, CancellationToken cancellationToken)
    {
        public MeteringRequest First { get; } = first;

        public MeteringRequest? Then { get; } = then;

        public CancellationToken CancellationToken { get; } = cancellationToken;

        public TaskCompletionSource<MeteredUse>? Single { get; } = then is null ? new(TaskCreationOptions.RunContinuationsAsynchronously) : null;

        public TaskCompletionSource<(MeteredUse, MeteredUse?)>? Pair { get; } = then is null ? null : new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Complete((MeteredUse First, MeteredUse? Then) result)
        {
            if (Single is not null)
            {
                Single.TrySetResult(result.First);
            }
            else
            {
                Pair!.TrySetResult(result);
            }
        }

        public void Fail(Exception e)
        {
            Single?.TrySetException(e);
            Pair?.TrySetException(e);
        }

        public void Cancel()
        {
            Single?.TrySetCanceled(CancellationToken);
            Pair?.TrySetCanceled(CancellationToken);
        }
    }
}
