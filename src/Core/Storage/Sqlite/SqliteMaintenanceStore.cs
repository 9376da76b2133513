using System.Text.Json;
using IronAuth.Core.Maintenance;

namespace IronAuth.Core.Storage.Sqlite;

/// <summary>Bounded deletes (SQLite has no DELETE … LIMIT by default, so each picks its keys first) and the lease.</summary>
public sealed class SqliteMaintenanceStore(SqliteDatabase database) : IMaintenanceStore, ILeaseStore
{
    public async Task<int> PurgeSessionsAsync(DateTimeOffset now, int batch, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        var ids = await connection.QueryAsync(
            "SELECT id FROM sessions WHERE revoked_at IS NOT NULL OR expires_at <= @now LIMIT @batch;",
            r => r.GetString(0),
            cancellationToken,
            ("@now", now.ToUnixMs()),
            ("@batch", batch));
        var json = JsonSerializer.Serialize(ids);
        await connection.ExecuteAsync("DELETE FROM refresh_tokens WHERE session_id IN (SELECT value FROM json_each(@ids));", cancellationToken, ("@ids", json));
        var deleted = await connection.ExecuteAsync("DELETE FROM sessions WHERE id IN (SELECT value FROM json_each(@ids));", cancellationToken, ("@ids", json));
        await transaction.CommitAsync();
        return deleted;
    }

    public async Task<int> PurgeRefreshTokensAsync(DateTimeOffset now, int batch, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        return await connection.ExecuteAsync(
            "DELETE FROM refresh_tokens WHERE digest IN (SELECT digest FROM refresh_tokens WHERE expires_at <= @now LIMIT @batch);",
            cancellationToken,
            ("@now", now.ToUnixMs()),
            ("@batch", batch));
    }

    public async Task<int> PurgeApiTokensAsync(DateTimeOffset threshold, int batch, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        var ids = await connection.QueryAsync(
            "SELECT id FROM api_tokens WHERE revoked_at < @threshold OR expires_at < @threshold LIMIT @batch;",
            r => r.GetString(0),
            cancellationToken,
            ("@threshold", threshold.ToUnixMs()),
            ("@batch", batch));
        var json = JsonSerializer.Serialize(ids);
        await connection.ExecuteAsync("DELETE FROM rate_buckets WHERE key IN (SELECT value FROM json_each(@ids));", cancellationToken, ("@ids", json));
        var deleted = await connection.ExecuteAsync("DELETE FROM api_tokens WHERE id IN (SELECT value FROM json_each(@ids));", cancellationToken, ("@ids", json));
        await transaction.CommitAsync();
        return deleted;
    }

    public async Task<int> PurgePasswordResetsAsync(DateTimeOffset now, int batch, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        return await connection.ExecuteAsync(
            "DELETE FROM password_resets WHERE digest IN (SELECT digest FROM password_resets WHERE spent_at IS NOT NULL OR expires_at <= @now LIMIT @batch);",
            cancellationToken,
            ("@now", now.ToUnixMs()),
            ("@batch", batch));
    }

    public async Task<int> PurgeFullBucketsAsync(DateTimeOffset now, int batch, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        return await connection.ExecuteAsync(
            "DELETE FROM rate_buckets WHERE key IN (SELECT key FROM rate_buckets WHERE full_at <= @now LIMIT @batch);",
            cancellationToken,
            ("@now", now.ToUnixMs()),
            ("@batch", batch));
    }

    public async Task<int> PurgeUsageAsync(DateOnly before, int batch, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        var day = before.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        // The breakdown rows of the same days go too (bounded the same way; the next call takes any rest).
        await connection.ExecuteAsync(
            "DELETE FROM usage_breakdown WHERE (token_id, day, provider, model) IN (SELECT token_id, day, provider, model FROM usage_breakdown WHERE day < @before LIMIT @batch);",
            cancellationToken,
            ("@before", day),
            ("@batch", batch));
        return await connection.ExecuteAsync(
            "DELETE FROM usage_days WHERE (token_id, day) IN (SELECT token_id, day FROM usage_days WHERE day < @before LIMIT @batch);",
            cancellationToken,
            ("@before", day),
            ("@batch", batch));
    }

    // --- ops/usage (issue 19)
    public async Task<int> PurgeUsageRequestsAsync(DateTimeOffset before, int batch, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        return await connection.ExecuteAsync(
            "DELETE FROM usage_requests WHERE (token_id, request_id) IN (SELECT token_id, request_id FROM usage_requests WHERE at < @before LIMIT @batch);",
            cancellationToken,
            ("@before", before.ToUnixMs()),
            ("@batch", batch));
    }

    // --- end ops/usage

    public async Task<int> PurgeEmailCodesAsync(DateTimeOffset now, int batch, CancellationToken cancellationToken)
    {
        // One statement: a code put again for the address (spent_at cleared, a new expiry) is either seen as the
        // new code or deleted before the put, which then inserts it afresh; never half of each.
        await using var connection = await database.WriteAsync(cancellationToken);
        return await connection.ExecuteAsync(
            "DELETE FROM email_codes WHERE normalized_email IN (SELECT normalized_email FROM email_codes WHERE spent_at IS NOT NULL OR expires_at <= @now LIMIT @batch);",
            cancellationToken,
            ("@now", now.ToUnixMs()),
            ("@batch", batch));
    }

    public async Task<int> PurgeMfaChallengesAsync(DateTimeOffset now, int batch, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        return await connection.ExecuteAsync(
            "DELETE FROM mfa_challenges WHERE digest IN (SELECT digest FROM mfa_challenges WHERE spent_at IS NOT NULL OR expires_at <= @now LIMIT @batch);",
            cancellationToken,
            ("@now", now.ToUnixMs()),
            ("@batch", batch));
    }

    public async Task<bool> TryAcquireAsync(string name, string holder, DateTimeOffset until, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        return await connection.ExecuteAsync(
            """
            INSERT INTO leases (name, holder, until) VALUES (@name, @holder, @until)
            ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
            WHERE leases.until <= @now OR leases.holder = @holder;
            """,
            cancellationToken,
            ("@name", name),
            ("@holder", holder),
            ("@until", until.ToUnixMs()),
            ("@now", now.ToUnixMs())) == 1;
    }

    public async Task ReleaseAsync(string name, string holder, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        await connection.ExecuteAsync(
            "UPDATE leases SET until = @now WHERE name = @name AND holder = @holder;",
            cancellationToken,
            ("@now", now.ToUnixMs()),
            ("@name", name),
            ("@holder", holder));
    }
}
