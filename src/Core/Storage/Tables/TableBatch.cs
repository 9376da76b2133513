using Azure;
using Azure.Data.Tables;

namespace IronAuth.Core.Storage.Tables;

/// <summary>
/// Entity-group transactions, guarded. Azure applies a batch atomically only within one partition and
/// rejects a batch that spans two with 400 — but Azurite accepts it, so no emulator test would catch a
/// key scheme that mixes partitions. Every batch goes through <see cref="SubmitEntityGroupAsync"/>, which
/// refuses what Azure would refuse before anything is sent.
/// </summary>
internal static class TableBatch
{
    /// <summary>Azure's limit on the actions of one transaction.</summary>
    public const int MaxActions = 100;

    /// <summary>Throws unless the actions form a valid entity-group transaction: 1 to 100 actions, one partition, each entity once.</summary>
    public static void EnsureOnePartition(IReadOnlyList<TableTransactionAction> actions)
    {
        if (actions.Count is 0 or > MaxActions)
        {
            throw new InvalidOperationException($"An entity-group transaction holds 1 to {MaxActions} actions (got {actions.Count}).");
        }

        var partition = actions[0].Entity.PartitionKey;
        var rows = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < actions.Count; i++)
        {
            var entity = actions[i].Entity;
            if (!string.Equals(entity.PartitionKey, partition, StringComparison.Ordinal))
            {
                throw new InvalidOperationException(
                    $"An entity-group transaction must stay within one partition: action {i} targets '{entity.PartitionKey}', action 0 '{partition}'.");
            }

            if (!rows.Add(entity.RowKey))
            {
                throw new InvalidOperationException($"An entity-group transaction may touch an entity only once: '{entity.RowKey}' appears twice.");
            }
        }
    }

    /// <summary>
    /// Submits the actions as one atomic transaction, after <see cref="EnsureOnePartition"/>; returns the
    /// answer to each action, in order (an update's answer carries the entity's new ETag).
    /// </summary>
    public static async Task<IReadOnlyList<Response>> SubmitEntityGroupAsync(this TableClient table, IReadOnlyList<TableTransactionAction> actions, CancellationToken cancellationToken)
    {
        EnsureOnePartition(actions);
        return (await table.SubmitTransactionAsync(actions, cancellationToken)).Value;
    }

    /// <summary>
    /// Deletes entities of one partition, 100 per transaction, whatever their ETags. Meant for what nobody
    /// writes any more (expired, purged); an entity that is already gone is fine, so a transaction that fails
    /// on a missing one is done again one delete at a time.
    /// </summary>
    public static async Task DeleteAllAsync(this TableClient table, string partitionKey, IReadOnlyList<string> rowKeys, CancellationToken cancellationToken)
    {
        foreach (var chunk in rowKeys.Distinct(StringComparer.Ordinal).Chunk(MaxActions))
        {
            try
            {
                await table.SubmitEntityGroupAsync(
                    [.. chunk.Select(row => new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(partitionKey, row), ETag.All))],
                    cancellationToken);
            }
            catch (TableTransactionFailedException e) when (e.Status == TableEntities.NotFound)
            {
                await Task.WhenAll(chunk.Select(row => table.DeleteEntityAsync(partitionKey, row, ETag.All, cancellationToken)));
            }
        }
    }
}
