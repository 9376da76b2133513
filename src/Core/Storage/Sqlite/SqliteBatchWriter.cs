using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace IronAuth.Core.Storage.Sqlite;

/// <summary>
/// A group commit: requests that arrive together are decided one after the other inside one BEGIN IMMEDIATE
/// transaction and committed once, so the commit and the hand-over of the write connection are paid per batch rather
/// than per request. The transaction holds the database's write lock from the first read to the commit, so the
/// guarantees are those of one transaction per request, across processes too; and no caller hears its result before
/// the transaction holding it has committed. A batch holds the requests of many callers, so <c>decide</c> reads and
/// decides before it writes anything of its own: a request whose decision throws has changed nothing and fails alone,
/// and only a failure of the database itself (a <see cref="SqliteException"/>: I/O, a full disk, a lock) fails the
/// batch (issue 13: one user's limits once failed everyone's requests). Rows the decisions changed are written once,
/// before the commit, by the <see cref="SqliteRowCache"/>.
/// </summary>
/// <remarks>
/// The loop has a thread of its own rather than a pool thread: every request waits for it, and under load a pool
/// thread's continuation queues behind the very requests that wait for it. Callers enqueue without a lock and wake the
/// thread only when it has gone idle. Its statements are timed once per batch, not one by one.
/// </remarks>
internal sealed class SqliteBatchWriter<TRequest, TResult> : IAsyncDisposable
{
    private const int MaxBatch = 256;
    // Before it sleeps, the writer yields its core this many times, looking for work in between: waking a sleeping
    // thread from another core is what a batch cost most on a small VM (two wake-ups, ~48 µs, in `perf bench sched
    // pipe` on the 2-core bench machine), and yielding costs nothing while anything else wants the core.
    private const int YieldsBeforeSleep = 20;
    private readonly SqliteDatabase database;
    private readonly SqliteRowCache known;
    private readonly Func<SqliteConnectionLease, TRequest, TResult> decide;
    private readonly Action<int>? batchStarting;
    private readonly ConcurrentQueue<Pending> pending = new();
    // Not spinning in the event before it sleeps: on a machine with few cores a spinning writer takes CPU from the
    // requests it is waiting for (yielding, above, gives it to them).
    private readonly ManualResetEventSlim wake = new(false, spinCount: 0);
    private readonly TaskCompletionSource stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool completed;
    private int idle;

    /// <param name="database">Whose write connection each batch takes.</param>
    /// <param name="known">What the writer knows of the rows; validated at the start of each batch, written before its commit.</param>
    /// <param name="decide">One request, inside the batch's transaction, on the writer thread.</param>
    /// <param name="threadName">The writer thread's name.</param>
    /// <param name="batchStarting">Told each batch's size before it runs (metrics).</param>
    public SqliteBatchWriter(
        SqliteDatabase database,
        SqliteRowCache known,
        Func<SqliteConnectionLease, TRequest, TResult> decide,
        string threadName,
        Action<int>? batchStarting = null)
    {
        this.database = database;
        this.known = known;
        this.decide = decide;
        this.batchStarting = batchStarting;
        new Thread(WriteLoop) { IsBackground = true, Name = threadName }.Start();
    }

    /// <summary>
    /// Queues <paramref name="request"/> for the next batch. A request cancelled before its batch starts is not run; once
    /// it is in a batch being committed, cancellation no longer applies.
    /// </summary>
    public Task<TResult> EnqueueAsync(TRequest request, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(completed, this);
        var item = new Pending(request, cancellationToken);
        pending.Enqueue(item);
        if (Interlocked.Exchange(ref idle, 0) == 1)
        {
            wake.Set();
        }

        return item.Result.Task;
    }

    public async ValueTask DisposeAsync()
    {
        completed = true;
        if (Interlocked.Exchange(ref idle, 0) == 1)
        {
            wake.Set();
        }

        await stopped.Task;
    }

    private void WriteLoop()
    {
        StoreMetrics.MarkWriterThread();
        var batch = new List<Pending>(MaxBatch);
        var yields = 0;
        while (true)
        {
            while (batch.Count < MaxBatch && pending.TryDequeue(out var item))
            {
                if (item.CancellationToken.IsCancellationRequested)
                {
                    item.Result.TrySetCanceled(item.CancellationToken);
                }
                else
                {
                    batch.Add(item);
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
            late.Result.TrySetException(new ObjectDisposedException(GetType().Name));
        }

        stopped.SetResult();
    }

    private async Task WriteBatchAsync(List<Pending> batch)
    {
        batchStarting?.Invoke(batch.Count);
        using var timing = StoreMetrics.StartSqliteBatch();
        var results = new TResult[batch.Count];
        var failures = new Exception?[batch.Count];
        try
        {
            await using var connection = await database.WriteAsync(CancellationToken.None);
            await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, CancellationToken.None);
            known.Validate(database, connection);
            for (var i = 0; i < batch.Count; i++)
            {
                try
                {
                    results[i] = decide(connection, batch[i].Request);
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
            // Nothing of the batch was committed: every request in it fails, none is half-counted, and what this writer
            // knew of the rows it had decided is no longer what is stored.
            known.Clear();
            foreach (var item in batch)
            {
                item.Result.TrySetException(e);
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
                batch[i].Result.TrySetResult(results[i]);
            }
        }
    }

    private sealed class Pending(TRequest request, CancellationToken cancellationToken)
    {
        public TRequest Request { get; } = request;

        public CancellationToken CancellationToken { get; } = cancellationToken;

        public TaskCompletionSource<TResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

/// <summary>
/// What a <see cref="SqliteBatchWriter{TRequest, TResult}"/> last read or wrote of the rows it decides, so that a batch
/// reads nothing when nobody else has written since: no other connection (another process: SQLite's
/// <c>PRAGMA data_version</c>, read inside the batch's transaction, which holds the write lock) and no other holder of
/// this process's write connection (<see cref="SqliteDatabase.WriteLeases"/>). Either forgets everything, as does a
/// batch that fails, so exactness is that of reading every row. Each row a batch changed is kept unwritten and written
/// once, with its last state, before the commit (<see cref="WriteDecided"/>).
/// </summary>
internal abstract class SqliteRowCache
{
    private const int MaxRows = 100_000;
    private const string DataVersion = "PRAGMA data_version;";
    private long leases = -1;
    private long dataVersion = -1;

    /// <summary>How many rows are kept; past <see cref="MaxRows"/> the cache starts over.</summary>
    protected abstract int Count { get; }

    /// <summary>Called first in each batch's transaction, holding the write connection.</summary>
    public void Validate(SqliteDatabase database, SqliteConnectionLease connection)
    {
        var leasesNow = database.WriteLeases;
        var dataVersionNow = connection.Statement(DataVersion).Single(row => raw.sqlite3_column_int64(row, 0));
        if (leasesNow != leases + 1 || dataVersionNow != dataVersion || Count > MaxRows)
        {
            Clear();
        }

        leases = leasesNow;
        dataVersion = dataVersionNow;
    }

    /// <summary>Forgets every row, written or not.</summary>
    public abstract void Clear();

    /// <summary>Writes every row the batch changed, once, before it commits.</summary>
    public abstract void WriteDecided(SqliteConnectionLease connection);
}
