using IronAuth.Core.Limits;
using SQLitePCL;

namespace IronAuth.Core.Storage.Sqlite;

public sealed class SqliteRateBucketStore(SqliteDatabase database) : IRateBucketStore
{
    // The read, the decision (BucketState.Take, the arithmetic the Table store applies too) and the write happen
    // inside the caller's write transaction: BEGIN IMMEDIATE holds the database's write lock from before the read to
    // the commit, so concurrent takes from any process are serialized and none can overdraw. Plain statements:
    // conditional upserts that did the arithmetic in SQL, with a read after them, cost twice as much.
    private const string Select = "SELECT tokens, updated_at FROM rate_buckets WHERE key = @key;";

    private const string Upsert = """
        INSERT INTO rate_buckets (key, tokens, updated_at, full_at) VALUES (@key, @tokens, @at, @full_at)
        ON CONFLICT (key) DO UPDATE SET tokens = @tokens, updated_at = @at, full_at = @full_at;
        """;

    public async Task<BucketTake> TakeAsync(string key, int capacity, double refillPerSecond, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        // The read, the decision and the write in one transaction, so no other process writes between them.
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        var taken = Take(connection, key, capacity, refillPerSecond, now);
        await transaction.CommitAsync();
        return taken;
    }

    /// <summary>
    /// The take on the write connection, inside a write transaction the caller holds (see <see cref="SqliteMeteringStore"/>).
    /// </summary>
    internal static BucketTake Take(SqliteConnectionLease connection, string key, int capacity, double refillPerSecond, DateTimeOffset now)
    {
        var decided = Decide(connection, key, capacity, refillPerSecond, now);
        Write(connection, decided);
        return decided.Outcome;
    }

    /// <summary>
    /// The read and the decision of a take, writing nothing: whatever the inputs do to the arithmetic happens here,
    /// before the use has changed anything (see <see cref="SqliteMeteringStore"/>).
    /// </summary>
    internal static DecidedTake Decide(SqliteConnectionLease connection, string key, int capacity, double refillPerSecond, DateTimeOffset now) =>
        Decide(key, Read(connection, key), capacity, refillPerSecond, now);

    /// <summary>The decision of a take from a bucket whose stored state is known (null: no row).</summary>
    internal static DecidedTake Decide(string key, BucketState? stored, int capacity, double refillPerSecond, DateTimeOffset now)
    {
        var after = BucketState.Take(stored, capacity, refillPerSecond, now.ToUnixMs(), out var taken);
        return new DecidedTake(key, taken, after, after?.FullAt(capacity, refillPerSecond) ?? 0);
    }

    /// <summary>The bucket's stored state, or null when it has no row.</summary>
    internal static BucketState? Read(SqliteConnectionLease connection, string key) =>
        connection.Statement(Select)
            .Bind("@key", key)
            .Single(row => (BucketState?)new BucketState(raw.sqlite3_column_double(row, 0), raw.sqlite3_column_int64(row, 1)));

    /// <summary>Stores a decided take (nothing when it was refused).</summary>
    internal static void Write(SqliteConnectionLease connection, DecidedTake decided)
    {
        if (decided.After is { } after)
        {
            connection.Statement(Upsert)
                .Bind("@key", decided.Key)
                .Bind("@tokens", after.Level)
                .Bind("@at", after.At)
                .Bind("@full_at", decided.FullAt)
                .Execute();
        }
    }

    internal readonly record struct DecidedTake(string Key, BucketTake Outcome, BucketState? After, long FullAt);
}
