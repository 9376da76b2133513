using Azure.Data.Tables;
using IronAuth.Core.Configuration;
using IronAuth.Core.Signing;

namespace IronAuth.Core.Storage.Tables;

/// <summary>Generated signing keys, one entity per key id in the SigningKeys table.</summary>
public sealed class TableSigningKeyStore(TableStorage storage) : ISigningKeyStore
{
    private const string Partition = "keys";

    public async Task<StoredSigningKey> GetOrAddAsync(StoredSigningKey candidate, CancellationToken cancellationToken)
    {
        var entity = new TableEntity(Partition, candidate.Id)
        {
            ["Algorithm"] = candidate.Algorithm.ToString(),
            ["PrivateKeyPem"] = candidate.PrivateKeyPem,
            ["CreatedAt"] = candidate.CreatedAt,
        };
        // Insert-if-absent: of concurrent first starts one insert lands and every other one gets a 409 and
        // reads back the winner's key.
        if (await storage.SigningKeys.InsertAsync(entity, cancellationToken))
        {
            return candidate;
        }

        var stored = await storage.SigningKeys.FindAsync(Partition, candidate.Id, cancellationToken)
            ?? throw new InvalidOperationException("The signing key entity vanished after a conflicting insert.");
        return new StoredSigningKey(
            stored.RowKey, Enum.Parse<SigningAlgorithm>(stored.RequiredString("Algorithm")), stored.RequiredString("PrivateKeyPem"), stored.RequiredTime("CreatedAt"));
    }
}
