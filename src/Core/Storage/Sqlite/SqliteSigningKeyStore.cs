using IronAuth.Core.Configuration;
using IronAuth.Core.Signing;
using Microsoft.Data.Sqlite;

namespace IronAuth.Core.Storage.Sqlite;

/// <summary>
/// Signing keys in the signing_keys table. A rotation is one BEGIN IMMEDIATE transaction: the old key is deactivated
/// only where it is still active, and the new key inserted only when that matched a row — so of concurrent rotations
/// (in any process on the file) the first to take the write lock wins and the others find their key already gone.
/// </summary>
public sealed class SqliteSigningKeyStore(SqliteDatabase database) : ISigningKeyStore
{
    private const string Columns = "id, algorithm, private_key_pem, created_at, deactivated_at, retired_at";

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
            $"SELECT {Columns} FROM signing_keys WHERE id = @id;", Map, cancellationToken, ("@id", candidate.Id))
            ?? throw new InvalidOperationException("The signing key row vanished after insert.");
    }

    public async Task<IReadOnlyList<StoredSigningKey>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.ReadAsync(cancellationToken);
        return await connection.QueryAsync($"SELECT {Columns} FROM signing_keys;", Map, cancellationToken);
    }

    public async Task<bool> RotateAsync(string activeId, StoredSigningKey next, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        var deactivated = await connection.ExecuteAsync(
            "UPDATE signing_keys SET deactivated_at = @now WHERE id = @id AND deactivated_at IS NULL AND retired_at IS NULL;",
            cancellationToken, ("@id", activeId), ("@now", now.ToUnixMs()));
        if (deactivated == 0)
        {
            return false;
        }

        await connection.ExecuteAsync(
            "INSERT INTO signing_keys (id, algorithm, private_key_pem, created_at) VALUES (@id, @algorithm, @pem, @created_at);",
            cancellationToken,
            ("@id", next.Id),
            ("@algorithm", next.Algorithm.ToString()),
            ("@pem", next.PrivateKeyPem),
            ("@created_at", next.CreatedAt.ToUnixMs()));
        await transaction.CommitAsync();
        return true;
    }

    public async Task<bool> RetireAsync(string id, string publicKeyPem, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        // The private half is replaced by the public one (kept to list the kid). Only a passive key: an active one (deactivated_at null) is never retired, whatever the caller read before.
        return await connection.ExecuteAsync(
            """
            UPDATE signing_keys SET retired_at = @now, private_key_pem = @public
            WHERE id = @id AND deactivated_at IS NOT NULL AND retired_at IS NULL;
            """,
            cancellationToken, ("@id", id), ("@public", publicKeyPem), ("@now", now.ToUnixMs())) == 1;
    }

    private static StoredSigningKey Map(SqliteDataReader r) =>
        new(r.GetString(0), Enum.Parse<SigningAlgorithm>(r.GetString(1)), r.GetString(2), r.GetTime(3))
        {
            DeactivatedAt = r.GetTimeOrNull(4),
            RetiredAt = r.GetTimeOrNull(5),
        };
}
