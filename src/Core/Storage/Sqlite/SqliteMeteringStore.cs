using IronAuth.Core.Limits;

namespace IronAuth.Core.Storage.Sqlite;

/// <summary>
/// The bucket take and the quota-checked count of one token use, as the two statements of
/// <see cref="SqliteRateBucketStore"/> and <see cref="SqliteUsageStore"/> run back to back under one lease
/// of the write connection: one wait for the writer instead of two. Each statement is atomic on its own,
/// across processes too, exactly as when they are called one by one.
/// </summary>
public sealed class SqliteMeteringStore(SqliteDatabase database) : IMeteringStore
{
    public async Task<MeteredUse> TakeAndCountAsync(
        string tokenId, EffectiveLimits limits, UsageDelta delta, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        var bucket = await SqliteRateBucketStore.TakeAsync(connection, tokenId, limits.Burst, limits.RequestsPerSecond, now, cancellationToken);
        if (!bucket.Admitted)
        {
            return new MeteredUse(bucket, null);
        }

        var usage = await SqliteUsageStore.TryAddAsync(connection, tokenId, UsageDay.DayOf(now), delta, limits.Quota, cancellationToken);
        return new MeteredUse(bucket, usage);
    }
}
