using System.Globalization;
using Azure;
using Azure.Data.Tables;

namespace IronAuth.Core.Storage.Tables;

/// <summary>
/// The purge index (table <c>Due</c>): one small entity per thing maintenance will have to look at, in
/// partition <c>{kind}:{yyyyMMddHH}</c> (the UTC hour from which it may be purgeable) with the thing's key
/// as row key. A purge is then a range read over one kind's past hours, never a scan of a data table.
/// Entries are written before the data they point at, so nothing purgeable exists unindexed; an entry
/// whose data is gone, or not purgeable yet (extended, revoked later than indexed), is removed or moved to
/// the hour it is due again when visited. Extra entries cost a read each and change nothing.
/// </summary>
internal static class PurgeIndex
{
    public const string Sessions = "session";
    public const string RefreshTokens = "refresh";
    public const string ApiTokens = "token";
    public const string Resets = "reset";
    public const string Buckets = "bucket";
    public const string Usage = "usage";
    public const string UsageRequests = "usagereq";
    public const string EmailCodes = "emailcode";
    public const string MfaChallenges = "mfachallenge";

    /// <summary>
    /// Not a purge kind of its own but the per-day activity index of spending analytics: partition
    /// <c>active:{yyyyMMdd}00</c> lists the tokens with usage that day (row = token id, <c>OwnerId</c>). Written once
    /// per token per day (before the first count of the day is), dropped with the usage purge.
    /// </summary>
    public const string Activity = "active";

    /// <summary>
    /// Likewise for budgets: partition <c>budgetday:{yyyyMMdd}00</c> lists the budgets with reports that day (row = budget
    /// id, <c>OwnerId</c>). Written before an agent's first report of the day is; removed with the budget's purge.
    /// </summary>
    public const string BudgetActivity = "budgetday";

    /// <summary>How many entries are visited at once by purges that delete at most one record per entry.</summary>
    public const int Parallelism = 8;

    /// <summary>What a visit did: how many records it deleted, and when the entry is due again (null: remove it).</summary>
    public readonly record struct Visit(int Deleted, DateTimeOffset? Next)
    {
        public static Visit Done(int deleted) => new(deleted, null);

        public static Visit Later(DateTimeOffset next) => new(0, next);
    }

    /// <summary>An entry read back: its kind, hour and key.</summary>
    public sealed record Entry(string PartitionKey, string Key);

    public static string Partition(string kind, DateTimeOffset due) =>
        kind + ":" + due.UtcDateTime.ToString("yyyyMMddHH", CultureInfo.InvariantCulture);

    public static DateTimeOffset Midnight(DateOnly day) => new(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);

    /// <summary>Indexes <paramref name="key"/> as due from <paramref name="due"/>; an entry that is already there is fine.</summary>
    public static Task AddAsync(this TableStorage storage, string kind, DateTimeOffset due, string key, CancellationToken cancellationToken) =>
        storage.Due.InsertAsync(new TableEntity(Partition(kind, due), key), cancellationToken);

    /// <summary>
    /// Visits the entries of <paramref name="kind"/> due before <paramref name="upTo"/> (oldest hour first) until
    /// <paramref name="batch"/> records were deleted or no entry is left, and settles each entry as its visit says.
    /// With <paramref name="parallelism"/> 1 a visit may delete up to the budget it is given; otherwise at most one.
    /// </summary>
    public static async Task<int> PurgeAsync(
        this TableStorage storage,
        string kind,
        DateTimeOffset upTo,
        int batch,
        int parallelism,
        Func<Entry, int, CancellationToken, Task<Visit>> visit,
        CancellationToken cancellationToken)
    {
        // The hour that holds upTo is included: its entries may already be due.
        var filter = TableClient.CreateQueryFilter($"PartitionKey ge {kind + ":"} and PartitionKey le {Partition(kind, upTo)}");
        var deleted = 0;
        var pages = storage.Due.QueryAsync<TableEntity>(filter, Math.Clamp(batch, 10, 1000), ["PartitionKey", "RowKey"], cancellationToken).AsPages();
        await foreach (var page in pages)
        {
            var entries = page.Values.Select(e => new Entry(e.PartitionKey, e.RowKey)).ToList();
            for (var i = 0; i < entries.Count && deleted < batch;)
            {
                var budget = batch - deleted;
                var chunk = entries.Skip(i).Take(Math.Min(parallelism, budget)).ToList();
                i += chunk.Count;
                var results = await Task.WhenAll(chunk.Select(async entry =>
                {
                    var result = await visit(entry, parallelism == 1 ? budget : 1, cancellationToken);
                    await storage.SettleAsync(kind, entry, result.Next, cancellationToken);
                    return result.Deleted;
                }));
                deleted += results.Sum();
            }

            if (deleted >= batch)
            {
                break;
            }
        }

        return deleted;
    }

    private static async Task SettleAsync(this TableStorage storage, string kind, Entry entry, DateTimeOffset? next, CancellationToken cancellationToken)
    {
        if (next is { } due)
        {
            var partition = Partition(kind, due);
            if (partition == entry.PartitionKey)
            {
                return;
            }

            // The new entry first: a crash in between leaves two entries, never none.
            await storage.Due.InsertAsync(new TableEntity(partition, entry.Key), cancellationToken);
        }

        await storage.Due.DeleteEntityAsync(entry.PartitionKey, entry.Key, ETag.All, cancellationToken);
    }
}
