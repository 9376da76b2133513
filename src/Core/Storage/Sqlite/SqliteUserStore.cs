using IronAuth.Core.Users;
using Microsoft.Data.Sqlite;

namespace IronAuth.Core.Storage.Sqlite;

public sealed class SqliteUserStore(SqliteDatabase database) : IUserStore
{
    /// <summary>SQLITE_CONSTRAINT_UNIQUE.</summary>
    private const int SqliteUniqueConstraint = 2067;

    private const string Columns =
        "id, username, email, display_name, role, status, status_reason, password_hash, failed_logins, lockout_count, locked_until, created_at, updated_at, version, email_verified_at, email_verification_required";

    public async Task<bool> CreateAsync(User user, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        // The unique indexes on normalized_username and normalized_email decide races: the second insert of a name or
        // an email inserts nothing.
        var inserted = await connection.ExecuteAsync(
            $"""
            INSERT INTO users ({Columns}, normalized_username, normalized_email)
            VALUES (@id, @username, @email, @display_name, @role, @status, @status_reason, @password_hash, @failed_logins,
                    @lockout_count, @locked_until, @created_at, @updated_at, @version, @email_verified_at,
                    @email_verification_required, @normalized_username, @normalized_email)
            ON CONFLICT DO NOTHING;
            """,
            cancellationToken,
            Parameters(user with { Version = Ids.NewSecret(12) }));
        return inserted == 1;
    }

    public async Task<User?> FindByIdAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await database.ReadAsync(cancellationToken);
        return await connection.QuerySingleAsync($"SELECT {Columns} FROM users WHERE id = @id;", Read, cancellationToken, ("@id", id));
    }

    public async Task<User?> FindByUsernameAsync(string normalizedUsername, CancellationToken cancellationToken)
    {
        await using var connection = await database.ReadAsync(cancellationToken);
        return await connection.QuerySingleAsync(
            $"SELECT {Columns} FROM users WHERE normalized_username = @name;", Read, cancellationToken, ("@name", normalizedUsername));
    }

    public async Task<User?> FindByEmailAsync(string normalizedEmail, CancellationToken cancellationToken)
    {
        await using var connection = await database.ReadAsync(cancellationToken);
        return await connection.QuerySingleAsync(
            $"SELECT {Columns} FROM users WHERE normalized_email = @email;", Read, cancellationToken, ("@email", normalizedEmail));
    }

    public async Task<bool> AnyAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.ReadAsync(cancellationToken);
        return await connection.ScalarAsync("SELECT EXISTS (SELECT 1 FROM users);", cancellationToken) is 1L;
    }

    public async Task<Page<User>> ListAsync(UserQuery query, CancellationToken cancellationToken)
    {
        await using var connection = await database.ReadAsync(cancellationToken);
        var rows = await connection.QueryAsync(
            $"""
            SELECT {Columns} FROM users
            WHERE (@role IS NULL OR role = @role) AND (@status IS NULL OR status = @status) AND (@after IS NULL OR id > @after)
            ORDER BY id LIMIT @limit;
            """,
            Read,
            cancellationToken,
            ("@role", query.Role?.ToWire()),
            ("@status", query.Status?.ToWire()),
            ("@after", query.Position),
            ("@limit", query.Limit + 1));
        return Page<User>.FromOverfetch(rows, query.Limit, u => u.Id);
    }

    public async Task<WriteOutcome> UpdateAsync(User user, bool keepAnActiveAdmin, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        if (keepAnActiveAdmin)
        {
            var others = await connection.ScalarAsync(
                "SELECT COUNT(*) FROM users WHERE role = 'admin' AND status = 'active' AND id <> @id;", cancellationToken, ("@id", user.Id));
            if (others is 0L)
            {
                return WriteOutcome.LastAdmin;
            }
        }

        var parameters = Parameters(user with { Version = Ids.NewSecret(12) }).Append(("@expected", user.Version)).ToArray();
        int updated;
        try
        {
            // normalized_email is recomputed only when the email changes: an account that shared its email with an
            // older one before emails were unique (the migration indexed only the oldest) keeps working unindexed.
            updated = await connection.ExecuteAsync(
                """
                UPDATE users SET username = @username, normalized_username = @normalized_username,
                    normalized_email = CASE WHEN email IS @email THEN normalized_email ELSE @normalized_email END, email = @email,
                    display_name = @display_name, role = @role, status = @status, status_reason = @status_reason,
                    password_hash = @password_hash, failed_logins = @failed_logins, lockout_count = @lockout_count,
                    locked_until = @locked_until, updated_at = @updated_at, version = @version,
                    email_verified_at = @email_verified_at, email_verification_required = @email_verification_required
                WHERE id = @id AND version = @expected;
                """,
                cancellationToken,
                parameters);
        }
        catch (SqliteException e) when (e.SqliteExtendedErrorCode == SqliteUniqueConstraint)
        {
            // Only normalized_email can collide here (usernames never change); the transaction rolls back on dispose.
            return WriteOutcome.EmailTaken;
        }

        if (updated == 0)
        {
            return WriteOutcome.Conflict;
        }

        await transaction.CommitAsync();
        return WriteOutcome.Written;
    }

    private static (string, object?)[] Parameters(User user) =>
    [
        ("@id", user.Id),
        ("@username", user.Username),
        ("@normalized_username", user.NormalizedUsername),
        ("@email", user.Email),
        ("@display_name", user.DisplayName),
        ("@role", user.Role.ToWire()),
        ("@status", user.Status.ToWire()),
        ("@status_reason", user.StatusReason),
        ("@password_hash", user.PasswordHash),
        ("@failed_logins", user.FailedLogins),
        ("@lockout_count", user.LockoutCount),
        ("@locked_until", user.LockedUntil.ToDb()),
        ("@created_at", user.CreatedAt.ToUnixMs()),
        ("@updated_at", user.UpdatedAt.ToUnixMs()),
        ("@version", user.Version),
        ("@normalized_email", user.NormalizedEmail),
        ("@email_verified_at", user.EmailVerifiedAt.ToDb()),
        ("@email_verification_required", user.EmailVerificationRequired ? 1 : 0),
    ];

    private static User Read(SqliteDataReader r)
    {
        RoleNames.TryParseRole(r.GetString(4), out var role);
        RoleNames.TryParseStatus(r.GetString(5), out var status);
        return new User
        {
            Id = r.GetString(0),
            Username = r.GetString(1),
            Email = r.GetStringOrNull(2),
            DisplayName = r.GetStringOrNull(3),
            Role = role,
            Status = status,
            StatusReason = r.GetStringOrNull(6),
            PasswordHash = r.GetString(7),
            FailedLogins = r.GetInt32(8),
            LockoutCount = r.GetInt32(9),
            LockedUntil = r.GetTimeOrNull(10),
            CreatedAt = r.GetTime(11),
            UpdatedAt = r.GetTime(12),
            Version = r.GetString(13),
            EmailVerifiedAt = r.GetTimeOrNull(14),
            EmailVerificationRequired = r.GetInt64(15) != 0,
        };
    }
}
