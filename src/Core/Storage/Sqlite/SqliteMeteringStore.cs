using System.Collections.Concurrent;
using IronAuth.Core.Limits;
using Microsoft.Data.Sqlite;

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
    private readonly SqliteDatabase database;
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
        ObjectDisposedException.ThrowIf(completed, this);
        var use = new PendingUse(tokenId, limits, delta, now, cancellationToken);
        pending.Enqueue(use);
        Wake();
        return use.Result.Task;
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
                    use.Result.TrySetCanceled(use.CancellationToken);
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
            late.Result.TrySetException(new ObjectDisposedException(nameof(SqliteMeteringStore)));
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
        var results = new MeteredUse?[batch.Count];
        var failures = new Exception?[batch.Count];
        try
        {
            await using var connection = await database.WriteAsync(CancellationToken.None);
            await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, CancellationToken.None);
            for (var i = 0; i < batch.Count; i++)
            {
                // Each use reads and decides before it writes anything. A decision that throws (limits or usage no
                // boundary should have let through) fails that use alone, having changed nothing, so the batch goes
                // on: one caller's input must never fail the uses of others that share its transaction. Only the
                // database itself failing (a SqliteException: I/O, a full disk, a lock) fails the batch.
                Decided decided;
                try
                {
                    // A use with an idempotency key that has counted before answers as it did then, changing nothing.
                    // The key is looked up inside this transaction, so a repeat in the same batch sees the first.
                    if (batch[i].Delta.Detail?.RequestId is { } requestId && SqliteUsageDetails.Replay(connection, batch[i].TokenId, requestId) is { } replayed)
                    {
                        results[i] = replayed;
                        continue;
                    }

                    decided = Decide(connection, batch[i]);
                }
                catch (Exception e) when (e is not SqliteException)
                {
                    failures[i] = e;
                    continue;
                }

                SqliteRateBucketStore.Write(connection, decided.Take);
                if (decided.Usage is { } usage)
                {
                    SqliteUsageStore.Write(connection, usage);
                    if (batch[i].Delta.Detail is { } detail && usage.Added)
                    {
                        SqliteUsageDetails.Write(connection, batch[i].TokenId, detail, batch[i].Now, decided.Breakdown, UsageReplay.Encode(decided.Take.Outcome, usage));
                    }
                }

                results[i] = new MeteredUse(decided.Take.Outcome, decided.Usage);
            }

            await transaction.CommitAsync();
        }
        catch (Exception e)
        {
            // Nothing of the batch was committed: every use in it fails, none is half-counted.
            foreach (var use in batch)
            {
                use.Result.TrySetException(e);
            }

            return;
        }

        for (var i = 0; i < batch.Count; i++)
        {
            if (failures[i] is { } failure)
            {
                batch[i].Result.TrySetException(failure);
            }
            else
            {
                batch[i].Result.TrySetResult(results[i]!);
            }
        }
    }

    private static Decided Decide(SqliteConnectionLease connection, PendingUse use)
    {
        var take = SqliteRateBucketStore.Decide(connection, use.TokenId, use.Limits.Burst, use.Limits.RequestsPerSecond, use.Now);
        if (!take.Outcome.Admitted)
        {
            return new Decided(take, null, null);
        }

        var day = UsageDay.DayOf(use.Now);
        var usage = SqliteUsageStore.Decide(connection, use.TokenId, day, use.Delta, use.Limits.Quota);
        // Detail only costs statements when a report carries it (Detail is null on the common path).
        var breakdown = use.Delta.Detail is not null && usage.Added ? SqliteUsageDetails.Decide(connection, use.TokenId, day, use.Delta) : null;
        return new Decided(take, usage, breakdown);
    }

    private readonly record struct Decided(SqliteRateBucketStore.DecidedTake Take, UsageOutcome? Usage, UsageBreakdownDay? Breakdown);

    private sealed record PendingUse(string TokenId, EffectiveLimits Limits, UsageDelta Delta, DateTimeOffset Now, CancellationToken CancellationToken)
    {
        public TaskCompletionSource<MeteredUse> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
