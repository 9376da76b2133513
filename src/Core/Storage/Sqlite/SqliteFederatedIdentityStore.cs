using IronAuth.Core.Federation;

namespace IronAuth.Core.Storage.Sqlite;

/// <summary>Links in <c>federated_identities</c>; the primary key (provider, subject) decides a race for an identity.</summary>
public sealed class SqliteFederatedIdentityStore(SqliteDatabase database) : IFederatedIdentityStore
{
    public async Task<string?> FindUserIdAsync(string provider, string subject, CancellationToken cancellationToken)
    {
        await using var connection = await database.ReadAsync(cancellationToken);
        return await connection.QuerySingleAsync(
            "SELECT user_id FROM federated_identities WHERE provider = @provider AND subject = @subject;",
            r => r.GetString(0),
            cancellationToken,
            ("@provider", provider),
            ("@subject", subject));
    }

    public async Task<bool> LinkAsync(string provider, string subject, string userId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        return await connection.ExecuteAsync(
            """
            INSERT INTO federated_identities (provider, subject, user_id, created_at) VALUES (@provider, @subject, @user_id, @now)
            ON CONFLICT (provider, subject) DO NOTHING;
            """,
            cancellationToken,
            ("@provider", provider),
            ("@subject", subject),
            ("@user_id", userId),
            ("@now", now.ToUnixMs())) == 1;
    }
}
