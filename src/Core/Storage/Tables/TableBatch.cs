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

    /// <summary>Submits the actions as one atomic transaction, after <see cref="EnsureOnePartition"/>.</summary>
    public static async Task SubmitEntityGroupAsync(this TableClient table, IReadOnlyList<TableTransactionAction> actions, CancellationToken cancellationToken)
    {
        EnsureOnePartition(actions);
        await table.SubmitTransactionAsync(actions, cancellationToken);
    }
}
