using Azure.Data.Tables;
using IronAuth.Core.Analytics;

namespace IronAuth.Core.Storage.Tables;

/// <summary>
/// Usage across tokens from the per-day activity index (<see cref="PurgeIndex.Activity"/>): one partition read per
/// day of the range lists the tokens with usage that day, then one range read of each such token's Metering
/// partition (its <c>day:</c> rows in range and today's counters), 8 at a time. A one-day query thus costs
/// 1 + (tokens active that day) reads, whatever the number of tokens or the length of their histories.
/// </summary>
public sealed class TableUsageAnalyticsStore(TableStorage storage, TableMeteringStore metering) : IUsageAnalyticsStore
{
    private const int Parallelism = 8;

    public async Task<IReadOnlyList<TokenActivity>> ListActivityAsync(DateOnly from, DateOnly to, string? ownerId, CancellationToken cancellationToken)
    {
        var owners = new Dictionary<string, string>(StringComparer.Ordinal);
        var days = Enumerable.Range(0, to.DayNumber - from.DayNumber + 1).Select(from.AddDays);
        foreach (var chunk in days.Chunk(Parallelism))
        {
            var listed = await Task.WhenAll(chunk.Select(async day =>
            {
                var partition = PurgeIndex.Partition(PurgeIndex.Activity, PurgeIndex.Midnight(day));
                var entries = new List<(string Token, string Owner)>();
                await foreach (var entry in storage.Due.QueryAsync<TableEntity>(
                    TableClient.CreateQueryFilter($"PartitionKey eq {partition}"), select: ["RowKey", "OwnerId"], cancellationToken: cancellationToken))
                {
                    entries.Add((entry.RowKey, entry.GetString("OwnerId") ?? ""));
                }

                return entries;
            }));
            foreach (var (token, owner) in listed.SelectMany(e => e))
            {
                if (ownerId is null || owner == ownerId)
                {
                    owners[token] = owner;
                }
            }
        }

        var activity = new List<TokenActivity>(owners.Count);
        foreach (var chunk in owners.Chunk(Parallelism))
        {
            activity.AddRange(await Task.WhenAll(chunk.Select(t => metering.ActivityAsync(t.Key, t.Value, from, to, cancellationToken))));
        }

        return activity;
    }
}

/// <summary>The activity index's one write (see <see cref="PurgeIndex.Activity"/>).</summary>
internal static class ActivityIndex
{
    /// <summary>Lists <paramref name="tokenId"/> under <paramref name="day"/>; an entry that is already there is fine.</summary>
    public static Task AddActivityAsync(this TableStorage storage, DateOnly day, string tokenId, string ownerId) =>
        storage.Due.InsertAsync(
            new TableEntity(PurgeIndex.Partition(PurgeIndex.Activity, PurgeIndex.Midnight(day)), tokenId) { ["OwnerId"] = ownerId },
            CancellationToken.None);
}
