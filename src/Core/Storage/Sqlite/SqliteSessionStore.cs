using IronAuth.Core.Sessions;
using Microsoft.Data.Sqlite;

namespace IronAuth.Core.Storage.Sqlite;

public sealed class SqliteSessionStore(SqliteDatabase database) : ISessionStore
{
    public async Task CreateAsync(Session session, RefreshTokenRecord firstToken, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        await connection.ExecuteAsync(
            "INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES (@id, @user_id, @created_at, @expires_at);",
            cancellationToken,
            ("@id", session.Id),
            ("@user_id", session.UserId),
            ("@created_at", session.CreatedAt.ToUnixMs()),
            ("@expires_at", session.ExpiresAt.ToUnixMs()));
        await InsertTokenAsync(connection, firstToken, cancellationToken);
        await transaction.CommitAsync();
    }

    public async Task<Session?> FindAsync(string sessionId, CancellationToken cancellationToken)
    {
        await using var connection = await database.ReadAsync(cancellationToken);
        return await connection.QuerySingleAsync(
            "SELECT id, user_id, created_at, expires_at, revoked_at, revoked_reason FROM sessions WHERE id = @id;",
            Read,
            cancellationToken,
            ("@id", sessionId));
    }

    public async Task<RefreshTokenRecord?> FindRefreshTokenAsync(string sessionId, byte[] digest, CancellationToken cancellationToken)
    {
        await using var connection = await database.ReadAsync(cancellationToken);
        return await connection.QuerySingleAsync(
            "SELECT digest, session_id, issued_at, expires_at, spent_at FROM refresh_tokens WHERE digest = @digest AND session_id = @session_id;",
            r => new RefreshTokenRecord((byte[])r.GetValue(0), r.GetString(1), r.GetTime(2), r.GetTime(3), r.GetTimeOrNull(4)),
            cancellationToken,
            ("@digest", digest),
            ("@session_id", sessionId));
    }

    public async Task<RotationOutcome> RotateAsync(string sessionId, byte[] presented, RefreshTokenRecord next, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        // The spend is conditional on the token being unspent: of concurrent callers, one updates the row
        // and the others then find it spent, which is exactly the reuse case.
        var spent = await connection.ExecuteAsync(
            """
            UPDATE refresh_tokens SET spent_at = @now
            WHERE digest = @digest AND session_id = @session_id AND spent_at IS NULL AND expires_at > @now
              AND EXISTS (SELECT 1 FROM sessions WHERE id = @session_id AND revoked_at IS NULL AND expires_at > @now);
            """,
            cancellationToken,
            ("@now", now.ToUnixMs()),
            ("@digest", presented),
            ("@session_id", sessionId));
        if (spent == 1)
        {
            await InsertTokenAsync(connection, next, cancellationToken);
            await connection.ExecuteAsync(
                "UPDATE sessions SET expires_at = @expires_at WHERE id = @id;",
                cancellationToken,
                ("@expires_at", next.ExpiresAt.ToUnixMs()),
                ("@id", sessionId));
            await transaction.CommitAsync();
            return RotationOutcome.Rotated;
        }

        var wasSpent = await connection.ScalarAsync(
            "SELECT spent_at IS NOT NULL FROM refresh_tokens WHERE digest = @digest AND session_id = @session_id;",
            cancellationToken,
            ("@digest", presented),
            ("@session_id", sessionId));
        if (wasSpent is not 1L)
        {
            return RotationOutcome.Invalid;
        }

        await connection.ExecuteAsync(
            "UPDATE sessions SET revoked_at = @now, revoked_reason = 'refresh_token_reuse' WHERE id = @id AND revoked_at IS NULL;",
            cancellationToken,
            ("@now", now.ToUnixMs()),
            ("@id", sessionId));
        await transaction.CommitAsync();
        return RotationOutcome.Reused;
    }

    public async Task<bool> RevokeAsync(string sessionId, string reason, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        return await connection.ExecuteAsync(
            "UPDATE sessions SET revoked_at = @now, revoked_reason = @reason WHERE id = @id AND revoked_at IS NULL;",
            cancellationToken,
            ("@now", now.ToUnixMs()),
            ("@reason", reason),
            ("@id", sessionId)) == 1;
    }

    public async Task<int> RevokeAllAsync(string userId, string? exceptSessionId, string reason, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        return await connection.ExecuteAsync(
            """
            UPDATE sessions SET revoked_at = @now, revoked_reason = @reason
            WHERE user_id = @user_id AND revoked_at IS NULL AND (@except IS NULL OR id <> @except);
            """,
            cancellationToken,
            ("@now", now.ToUnixMs()),
            ("@reason", reason),
            ("@user_id", userId),
            ("@except", exceptSessionId));
    }

    private static Task<int> InsertTokenAsync(SqliteConnectionLease connection, RefreshTokenRecord token, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(
            "INSERT INTO refresh_tokens (digest, session_id, issued_at, expires_at) VALUES (@digest, @session_id, @issued_at, @expires_at);",
            cancellationToken,
            ("@digest", token.Digest),
            ("@session_id", token.SessionId),
            ("@issued_at", token.IssuedAt.ToUnixMs()),
            ("@expires_at", token.ExpiresAt.ToUnixMs()));

    private static Session Read(SqliteDataReader r) => new()
    {
        Id = r.GetString(0),
        UserId = r.GetString(1),
        CreatedAt = r.GetTime(2),
        ExpiresAt = r.GetTime(3),
        RevokedAt = r.GetTimeOrNull(4),
        RevokedReason = r.GetStringOrNull(5),
    };
}
