using IronAuth.Core.Limits;
using IronAuth.Core.Tokens;
using Microsoft.Data.Sqlite;

namespace IronAuth.Core.Storage.Sqlite;

public sealed class SqliteApiTokenStore(SqliteDatabase database) : IApiTokenStore
{
    private const string Columns =
        "id, user_id, name, prefix, digest, scopes, requests_per_second, burst, daily_requests, daily_tokens, daily_cost_micros, created_at, expires_at, revoked_at, last_used_at";

    public async Task<int> CreateAsync(ApiToken token, bool revokeOthers, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        var revoked = revokeOthers
            ? await connection.ExecuteAsync(
                "UPDATE api_tokens SET revoked_at = @now WHERE user_id = @user_id AND revoked_at IS NULL;",
                cancellationToken,
                ("@now", token.CreatedAt.ToUnixMs()),
                ("@user_id", token.UserId))
            : 0;
        await connection.ExecuteAsync(
            $"""
            INSERT INTO api_tokens ({Columns})
            VALUES (@id, @user_id, @name, @prefix, @digest, @scopes, @rps, @burst, @daily_requests, @daily_tokens, @daily_cost_micros,
                    @created_at, @expires_at, NULL, NULL);
            """,
            cancellationToken,
            ("@id", token.Id),
            ("@user_id", token.UserId),
            ("@name", token.Name),
            ("@prefix", token.Prefix),
            ("@digest", token.Digest),
            ("@scopes", string.Join(' ', token.Scopes)),
            ("@rps", token.Limits.RequestsPerSecond),
            ("@burst", token.Limits.Burst),
            ("@daily_requests", token.Limits.DailyRequests),
            ("@daily_tokens", token.Limits.DailyTokens),
            ("@daily_cost_micros", Money.ToMicros(token.Limits.DailyCost)),
            ("@created_at", token.CreatedAt.ToUnixMs()),
            ("@expires_at", token.ExpiresAt.ToUnixMs()));
        await transaction.CommitAsync();
        return revoked;
    }

    public async Task<ApiToken?> FindByIdAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await database.ReadAsync(cancellationToken);
        return await connection.QuerySingleAsync($"SELECT {Columns} FROM api_tokens WHERE id = @id;", Read, cancellationToken, ("@id", id));
    }

    public async Task<ApiToken?> FindByDigestAsync(byte[] digest, CancellationToken cancellationToken)
    {
        await using var connection = await database.ReadAsync(cancellationToken);
        return await connection.QuerySingleAsync($"SELECT {Columns} FROM api_tokens WHERE digest = @digest;", Read, cancellationToken, ("@digest", digest));
    }

    public async Task<Page<ApiToken>> ListAsync(ApiTokenQuery query, CancellationToken cancellationToken)
    {
        await using var connection = await database.ReadAsync(cancellationToken);
        var rows = await connection.QueryAsync(
            $"""
            SELECT {Columns} FROM api_tokens
            WHERE (@user_id IS NULL OR user_id = @user_id) AND (@after IS NULL OR id > @after)
            ORDER BY id LIMIT @limit;
            """,
            Read,
            cancellationToken,
            ("@user_id", query.UserId),
            ("@after", query.Position),
            ("@limit", query.Limit + 1));
        var more = rows.Count > query.Limit;
        if (more)
        {
            rows.RemoveAt(rows.Count - 1);
        }

        return new Page<ApiToken>(rows, more ? rows[^1].Id : null);
    }

    public async Task<bool> RevokeAsync(string id, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        return await connection.ExecuteAsync(
            "UPDATE api_tokens SET revoked_at = @now WHERE id = @id AND revoked_at IS NULL;",
            cancellationToken,
            ("@now", now.ToUnixMs()),
            ("@id", id)) == 1;
    }

    public async Task TouchAsync(string id, DateTimeOffset usedAt, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        await connection.ExecuteAsync(
            "UPDATE api_tokens SET last_used_at = @used_at WHERE id = @id AND (last_used_at IS NULL OR last_used_at < @used_at);",
            cancellationToken,
            ("@used_at", usedAt.ToUnixMs()),
            ("@id", id));
    }

    private static ApiToken Read(SqliteDataReader r) => new()
    {
        Id = r.GetString(0),
        UserId = r.GetString(1),
        Name = r.GetString(2),
        Prefix = r.GetString(3),
        Digest = (byte[])r.GetValue(4),
        Scopes = r.GetString(5).Split(' ', StringSplitOptions.RemoveEmptyEntries),
        Limits = new TokenLimits(r.GetDouble(6), r.GetInt32(7), r.GetInt64(8), r.GetInt64(9), Money.FromMicros(r.GetInt64(10))),
        CreatedAt = r.GetTime(11),
        ExpiresAt = r.GetTime(12),
        RevokedAt = r.GetTimeOrNull(13),
        LastUsedAt = r.GetTimeOrNull(14),
    };
}
