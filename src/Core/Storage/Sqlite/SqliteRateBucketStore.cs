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
    private const string Take = """
        INSERT INTO rate_buckets (key, tokens, updated_at, full_at) VALUES (@key, @capacity - 1, @now, @now + CAST(1000.0 / @rate AS INTEGER))
        ON CONFLICT (key) DO UPDATE SET
            tokens = min(@capacity, tokens + max(0, @now - updated_at) * @rate / 1000.0) - 1,
            updated_at = max(updated_at, @now),
            full_at = max(updated_at, @now)
                + CAST((@capacity - min(@capacity, tokens + max(0, @now - updated_at) * @rate / 1000.0) + 1) * 1000.0 / @rate AS INTEGER)
        WHERE min(@capacity, tokens + max(0, @now - updated_at) * @rate / 1000.0) >= 1
        RETURNING tokens;
        """;

    public async Task<BucketTake> TakeAsync(string key, int capacity, double refillPerSecond, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        return await TakeAsync(connection, key, capacity, refillPerSecond, now, cancellationToken);
    }

    /// <summary>The take on a write connection the caller holds (see <see cref="SqliteMeteringStore"/>).</summary>
    internal static async Task<BucketTake> TakeAsync(
        SqliteConnectionLease connection, string key, int capacity, double refillPerSecond, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var taken = connection.Statement(Take)
            .Bind("@key", key)
            .Bind("@capacity", capacity)
            .Bind("@rate", refillPerSecond)
            .Bind("@now", now.ToUnixMs())
            .Single(row => (double?)raw.sqlite3_column_double(row, 0));
        if (taken is { } left)
        {
            return BucketTake.From(true, left, capacity, refillPerSecond);
        }

        var level = await connection.QueryAsync(
            "SELECT min(@capacity, tokens + max(0, @now - updated_at) * @rate / 1000.0) FROM rate_buckets WHERE key = @key;",
            r => r.GetDouble(0),
            cancellationToken,
            ("@key", key),
            ("@capacity", capacity),
            ("@rate", refillPerSecond),
            ("@now", now.ToUnixMs()));
        return BucketTake.From(false, level.Count == 1 ? level[0] : 0, capacity, refillPerSecond);
    }
}
