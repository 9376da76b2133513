using IronAuth.Core.Mfa;

namespace IronAuth.Core.Storage.Sqlite;

/// <summary>
/// Two-factor state in <c>mfa_totp</c>, <c>mfa_recovery_codes</c> and <c>mfa_challenges</c>. Every single-use rule is
/// one conditional statement: a step is accepted by <c>UPDATE … WHERE last_step &lt; @step</c>, a recovery code or a
/// challenge spent by <c>UPDATE … WHERE spent_at IS NULL</c>; one writer wins, whatever the number of processes.
/// </summary>
public sealed class SqliteMfaStore(SqliteDatabase database) : IMfaStore
{
    public async Task<TotpEnrolment?> FindTotpAsync(string userId, CancellationToken cancellationToken)
    {
        await using var connection = await database.ReadAsync(cancellationToken);
        return await connection.QuerySingleAsync(
            "SELECT user_id, secret, created_at, confirmed_at, last_step FROM mfa_totp WHERE user_id = @user_id;",
            r => new TotpEnrolment(r.GetString(0), r.GetString(1), r.GetTime(2), r.GetTimeOrNull(3), r.GetInt64(4)),
            cancellationToken,
            ("@user_id", userId));
    }

    public async Task<bool> BeginTotpAsync(TotpEnrolment enrolment, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        return await connection.ExecuteAsync(
            """
            INSERT INTO mfa_totp (user_id, secret, created_at, confirmed_at, last_step) VALUES (@user_id, @secret, @created_at, NULL, -1)
            ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at, last_step = -1
            WHERE mfa_totp.confirmed_at IS NULL;
            """,
            cancellationToken,
            ("@user_id", enrolment.UserId),
            ("@secret", enrolment.ProtectedSecret),
            ("@created_at", enrolment.CreatedAt.ToUnixMs())) == 1;
    }

    public async Task<bool> ConfirmTotpAsync(
        string userId, string protectedSecret, long step, IReadOnlyList<byte[]> recoveryDigests, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        var confirmed = await connection.ExecuteAsync(
            """
            UPDATE mfa_totp SET confirmed_at = @now, last_step = @step
            WHERE user_id = @user_id AND secret = @secret AND confirmed_at IS NULL;
            """,
            cancellationToken,
            ("@now", now.ToUnixMs()),
            ("@step", step),
            ("@user_id", userId),
            ("@secret", protectedSecret));
        if (confirmed != 1)
        {
            return false;
        }

        await connection.ExecuteAsync("DELETE FROM mfa_recovery_codes WHERE user_id = @user_id;", cancellationToken, ("@user_id", userId));
        foreach (var digest in recoveryDigests)
        {
            await connection.ExecuteAsync(
                "INSERT INTO mfa_recovery_codes (user_id, digest) VALUES (@user_id, @digest);", cancellationToken, ("@user_id", userId), ("@digest", digest));
        }

        await transaction.CommitAsync();
        return true;
    }

    public async Task<bool> AcceptStepAsync(string userId, long step, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        return await connection.ExecuteAsync(
            "UPDATE mfa_totp SET last_step = @step WHERE user_id = @user_id AND confirmed_at IS NOT NULL AND last_step < @step;",
            cancellationToken,
            ("@step", step),
            ("@user_id", userId)) == 1;
    }

    public async Task<bool> SpendRecoveryCodeAsync(string userId, byte[] digest, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        return await connection.ExecuteAsync(
            "UPDATE mfa_recovery_codes SET spent_at = @now WHERE user_id = @user_id AND digest = @digest AND spent_at IS NULL;",
            cancellationToken,
            ("@now", now.ToUnixMs()),
            ("@user_id", userId),
            ("@digest", digest)) == 1;
    }

    public async Task<bool> RemoveTotpAsync(string userId, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        var removed = await connection.ExecuteAsync("DELETE FROM mfa_totp WHERE user_id = @user_id;", cancellationToken, ("@user_id", userId));
        await connection.ExecuteAsync("DELETE FROM mfa_recovery_codes WHERE user_id = @user_id;", cancellationToken, ("@user_id", userId));
        await transaction.CommitAsync();
        return removed == 1;
    }

    public async Task AddChallengeAsync(MfaChallenge challenge, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        await connection.ExecuteAsync(
            "INSERT INTO mfa_challenges (digest, user_id, expires_at) VALUES (@digest, @user_id, @expires_at);",
            cancellationToken,
            ("@digest", challenge.Digest),
            ("@user_id", challenge.UserId),
            ("@expires_at", challenge.ExpiresAt.ToUnixMs()));
    }

    public async Task<string?> SpendChallengeAsync(byte[] digest, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        var spent = await connection.ExecuteAsync(
            "UPDATE mfa_challenges SET spent_at = @now WHERE digest = @digest AND spent_at IS NULL AND expires_at > @now;",
            cancellationToken,
            ("@now", now.ToUnixMs()),
            ("@digest", digest));
        var userId = spent == 1
            ? await connection.QuerySingleAsync("SELECT user_id FROM mfa_challenges WHERE digest = @digest;", r => r.GetString(0), cancellationToken, ("@digest", digest))
            : null;
        await transaction.CommitAsync();
        return userId;
    }
}
