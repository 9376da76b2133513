using IronAuth.Core.Limits;
using SQLitePCL;

namespace IronAuth.Core.Storage.Sqlite;

public sealed class SqliteRateBucketStore(SqliteDatabase database) : IRateBucketStore
{
    // One statement decides and takes: the refill is computed from the stored level and time, and the
    // update happens only when at least one whole token is there. SQLite runs it under the database's
    // write lock, so concurrent takes (from any process) are serialized and none can overdraw.
    // max(0, …) and max(updated_at, …) keep a clock that runs behind in another process from refilling twice.
    // full_at (when the bucket will be full again) lets maintenance delete buckets that no longer matter.
    // No RETURNING: SQLite builds a temporary table per execution for it, which cost more than the read after.
    private const string TakeSql = """
        INSERT INTO rate_buckets (key, tokens, updated_at, full_at) VALUES (@key, @capacity - 1, @now, @now + CAST(1000.0 / @rate AS INTEGER))
        ON CONFLICT (key) DO UPDATE SET
            tokens = min(@capacity, tokens + max(0, @now - updated_at) * @rate / 1000.0) - 1,
            updated_at = max(updated_at, @now),
            full_at = max(updated_at, @now)
                + CAST((@capacity - min(@capacity, tokens + max(0, @now - updated_at) * @rate / 1000.0) + 1) * 1000.0 / @rate AS INTEGER)
        WHERE min(@capacity, tokens + max(0, @now - updated_at) * @rate / 1000.0) >= 1;
        """;

    // The level now: after a take, updated_at is now and this is the stored level; after a refusal, the refill so far.
    private const string Level = """
        SELECT min(@capacity, tokens + max(0, @now - updated_at) * @rate / 1000.0) FROM rate_buckets WHERE key = @key;
        """;

    public async Task<BucketTake> TakeAsync(string key, int capacity, double refillPerSecond, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        // The write and the read after it in one transaction, so no other process writes between them.
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        var taken = Take(connection, key, capacity, refillPerSecond, now);
        await transaction.CommitAsync();
        return taken;
    }

    /// <summary>The take on a write connection the caller holds (see <see cref="SqliteMeteringStore"/>).</summary>
    internal static BucketTake Take(SqliteConnectionLease connection, string key, int capacity, double refillPerSecond, DateTimeOffset now)
    {
        var admitted = connection.Statement(TakeSql)
            .Bind("@key", key)
            .Bind("@capacity", capacity)
            .Bind("@rate", refillPerSecond)
            .Bind("@now", now.ToUnixMs())
            .Execute() == 1;
        var level = connection.Statement(Level)
            .Bind("@key", key)
            .Bind("@capacity", capacity)
            .Bind("@rate", refillPerSecond)
            .Bind("@now", now.ToUnixMs())
            .Single(row => raw.sqlite3_column_double(row, 0));
        return BucketTake.From(admitted, level, capacity, refillPerSecond);
    }
}
