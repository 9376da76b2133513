using IronAuth.Core.Accounts;

namespace IronAuth.Core.Storage.Sqlite;

/// <summary>
/// Codes in <c>email_codes</c>, one row per address. A check is one write transaction of two conditional updates:
/// the spend (<c>digest</c> matches, unspent, unexpired, under the try limit) and, when it changed nothing, the count
/// of a wrong try under the same conditions less the digest. Each is a single statement whose WHERE is the
/// precondition, so across processes sharing the file exactly one spend can succeed, and every counted wrong try is
/// a distinct increment that stops at the limit.
/// </summary>
public sealed class SqliteEmailCodeStore(SqliteDatabase database) : IEmailCodeStore
{
    public async Task PutAsync(EmailCode code, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        await connection.ExecuteAsync(
            """
            INSERT INTO email_codes (normalized_email, user_id, digest, created_at, expires_at, attempts, spent_at)
            VALUES (@email, @user_id, @digest, @created_at, @expires_at, 0, NULL)
            ON CONFLICT (normalized_email) DO UPDATE SET user_id = excluded.user_id, digest = excluded.digest,
                created_at = excluded.created_at, expires_at = excluded.expires_at, attempts = 0, spent_at = NULL;
            """,
            cancellationToken,
            ("@email", code.NormalizedEmail),
            ("@user_id", code.UserId),
            ("@digest", code.Digest),
            ("@created_at", code.CreatedAt.ToUnixMs()),
            ("@expires_at", code.ExpiresAt.ToUnixMs()));
    }

    public async Task<(CodeCheck Check, string? UserId)> CheckAsync(
        string normalizedEmail, byte[] digest, int maxAttempts, DateTimeOffset now, CancellationToken cancellationToken)
    {
        (string, object?)[] parameters = [("@email", normalizedEmail), ("@digest", digest), ("@max", maxAttempts), ("@now", now.ToUnixMs())];
        await using var connection = await database.WriteAsync(cancellationToken);
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        const string Usable = "normalized_email = @email AND spent_at IS NULL AND expires_at > @now AND attempts < @max";
        var spent = await connection.ExecuteAsync(
            $"UPDATE email_codes SET spent_at = @now WHERE {Usable} AND digest = @digest;", cancellationToken, parameters);
        if (spent == 1)
        {
            var userId = await connection.QuerySingleAsync(
                "SELECT user_id FROM email_codes WHERE normalized_email = @email;", r => r.GetString(0), cancellationToken, parameters);
            await transaction.CommitAsync();
            return (CodeCheck.Redeemed, userId);
        }

        var counted = await connection.ExecuteAsync($"UPDATE email_codes SET attempts = attempts + 1 WHERE {Usable};", cancellationToken, parameters);
        await transaction.CommitAsync();
        return (counted == 1 ? CodeCheck.Wrong : CodeCheck.Unusable, null);
    }
}
