using IronAuth.Core.Configuration;
using IronAuth.Core.Signing;

namespace IronAuth.Core.Storage.Sqlite;

public sealed class SqliteSigningKeyStore(SqliteDatabase database) : ISigningKeyStore
{
    public async Task<StoredSigningKey> GetOrAddAsync(StoredSigningKey candidate, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        // Insert-if-absent, then read: every concurrent first start reads back the one row that won.
        await connection.ExecuteAsync(
            """
            INSERT INTO signing_keys (id, algorithm, private_key_pem, created_at) VALUES (@id, @algorithm, @pem, @created_at)
            ON CONFLICT (id) DO NOTHING;
            """,
            cancellationToken,
            ("@id", candidate.Id),
            ("@algorithm", candidate.Algorithm.ToString()),
            ("@pem", candidate.PrivateKeyPem),
            ("@created_at", candidate.CreatedAt.ToUnixMs()));
        return await connection.QuerySingleAsync(
            "SELECT id, algorithm, private_key_pem, created_at FROM signing_keys WHERE id = @id;",
            r => new StoredSigningKey(r.GetString(0), Enum.Parse<SigningAlgorithm>(r.GetString(1)), r.GetString(2), r.GetTime(3)),
            cancellationToken,
            ("@id", candidate.Id)) ?? throw new InvalidOperationException("The signing key row vanished after insert.");
    }
}
