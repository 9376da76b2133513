using IronAuth.Core.Passwords;

namespace IronAuth.Core.Storage.Sqlite;

public sealed class SqlitePasswordResetStore(SqliteDatabase database) : IPasswordResetStore
{
    public async Task AddAsync(PasswordResetTicket ticket, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        await connection.ExecuteAsync(
            "UPDATE password_resets SET spent_at = @now WHERE user_id = @user_id AND spent_at IS NULL;",
            cancellationToken,
            ("@now", ticket.CreatedAt.ToUnixMs()),
            ("@user_id", ticket.UserId));
        await connection.ExecuteAsync(
            "INSERT INTO password_resets (digest, user_id, created_at, expires_at) VALUES (@digest, @user_id, @created_at, @expires_at);",
            cancellationToken,
            ("@digest", ticket.Digest),
            ("@user_id", ticket.UserId),
            ("@created_at", ticket.CreatedAt.ToUnixMs()),
            ("@expires_at", ticket.ExpiresAt.ToUnixMs()));
        await transaction.CommitAsync();
    }

    public async Task<PasswordResetTicket?> FindUsableAsync(byte[] digest, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.ReadAsync(cancellationToken);
        return await connection.QuerySingleAsync(
            "SELECT digest, user_id, created_at, expires_at FROM password_resets WHERE digest = @digest AND spent_at IS NULL AND expires_at > @now;",
            r => new PasswordResetTicket((byte[])r.GetValue(0), r.GetString(1), r.GetTime(2), r.GetTime(3)),
            cancellationToken,
            ("@digest", digest),
            ("@now", now.ToUnixMs()));
    }

    public async Task<bool> SpendAsync(byte[] digest, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        return await connection.ExecuteAsync(
            "UPDATE password_resets SET spent_at = @now WHERE digest = @digest AND spent_at IS NULL AND expires_at > @now;",
            cancellationToken,
            ("@now", now.ToUnixMs()),
            ("@digest", digest)) == 1;
    }

    public async Task<int> SpendAllAsync(string userId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        return await connection.ExecuteAsync(
            "UPDATE password_resets SET spent_at = @now WHERE user_id = @user_id AND spent_at IS NULL;",
            cancellationToken,
            ("@now", now.ToUnixMs()),
            ("@user_id", userId));
    }
}
