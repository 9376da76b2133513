using Azure;
using Azure.Data.Tables;
using IronAuth.Core.Configuration;
using IronAuth.Core.Signing;

namespace IronAuth.Core.Storage.Tables;

/// <summary>
/// Generated signing keys, one entity per key id in one partition of the SigningKeys table.
/// </summary>
/// <remarks>
/// A rotation costs two round trips: a point read of the active key (for its ETag), then one entity-group transaction
/// in that partition that updates the old key (If-Match its ETag, marking it deactivated) and inserts the new one. Two
/// concurrent rotations read the same ETag; the first transaction changes it, so the second fails with 412 as a whole
/// — neither its deactivation nor its new key is written — and exactly one key is left active. Retirement is one
/// ETag-conditional update after a read, so it can never land on a key a concurrent writer changed.
/// </remarks>
public sealed class TableSigningKeyStore(TableStorage storage) : ISigningKeyStore
{
    private const string Partition = "keys";

    public async Task<StoredSigningKey> GetOrAddAsync(StoredSigningKey candidate, CancellationToken cancellationToken)
    {
        // Insert-if-absent: of concurrent first starts one insert lands and every other one gets a 409 and
        // reads back the winner's key.
        if (await storage.SigningKeys.InsertAsync(ToEntity(candidate), cancellationToken))
        {
            return candidate;
        }

        var stored = await storage.SigningKeys.FindAsync(Partition, candidate.Id, cancellationToken)
            ?? throw new InvalidOperationException("The signing key entity vanished after a conflicting insert.");
        return FromEntity(stored);
    }

    public async Task<IReadOnlyList<StoredSigningKey>> ListAsync(CancellationToken cancellationToken)
    {
        var keys = new List<StoredSigningKey>();
        await foreach (var entity in storage.SigningKeys.QueryAsync<TableEntity>(e => e.PartitionKey == Partition, cancellationToken: cancellationToken))
        {
            keys.Add(FromEntity(entity));
        }

        return keys;
    }

    public async Task<bool> RotateAsync(string activeId, StoredSigningKey next, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var active = await storage.SigningKeys.FindAsync(Partition, activeId, cancellationToken);
        if (active is null || active.ContainsKey("DeactivatedAt") || active.ContainsKey("RetiredAt"))
        {
            return false;
        }

        var deactivate = new TableEntity(Partition, activeId) { ["DeactivatedAt"] = now };
        try
        {
            await storage.SigningKeys.SubmitEntityGroupAsync(
                [
                    new TableTransactionAction(TableTransactionActionType.UpdateMerge, deactivate, active.ETag),
                    new TableTransactionAction(TableTransactionActionType.Add, ToEntity(next)),
                ],
                cancellationToken);
            return true;
        }
        catch (TableTransactionFailedException e) when (e.Status is TableEntities.PreconditionFailed or TableEntities.NotFound)
        {
            // Another rotation changed the old key first; the whole transaction was refused.
            return false;
        }
    }

    public async Task<bool> RetireAsync(string id, string publicKeyPem, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var key = await storage.SigningKeys.FindAsync(Partition, id, cancellationToken);
        if (key is null || !key.ContainsKey("DeactivatedAt") || key.ContainsKey("RetiredAt"))
        {
            return false;
        }

        // The private half is erased (a retired key never signs or verifies again); the public half names it in lists.
        var retire = new TableEntity(Partition, id) { ["RetiredAt"] = now, ["PrivateKeyPem"] = publicKeyPem };
        try
        {
            await storage.SigningKeys.UpdateEntityAsync(retire, key.ETag, TableUpdateMode.Merge, cancellationToken);
            return true;
        }
        catch (RequestFailedException e) when (e.Status is TableEntities.PreconditionFailed or TableEntities.NotFound)
        {
            return false;
        }
    }

    private static TableEntity ToEntity(StoredSigningKey key) => new(Partition, key.Id)
    {
        ["Algorithm"] = key.Algorithm.ToString(),
        ["PrivateKeyPem"] = key.PrivateKeyPem,
        ["CreatedAt"] = key.CreatedAt,
    };

    private static StoredSigningKey FromEntity(TableEntity entity) =>
        new(entity.RowKey, Enum.Parse<SigningAlgorithm>(entity.RequiredString("Algorithm")), entity.GetString("PrivateKeyPem") ?? "", entity.RequiredTime("CreatedAt"))
        {
            DeactivatedAt = entity.GetDateTimeOffset("DeactivatedAt"),
            RetiredAt = entity.GetDateTimeOffset("RetiredAt"),
        };
}
