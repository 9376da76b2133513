using System.Globalization;
using IronAuth.Core.Limits;
using IronAuth.Core.Tokens;
using Microsoft.Data.Sqlite;

namespace IronAuth.Core.Storage.Sqlite;

/// <summary>
/// API tokens in <c>api_tokens</c>. Every rule that must not race is decided inside one write transaction (BEGIN
/// IMMEDIATE holds the database's write lock from the first read to the commit, across processes): the cap on active
/// tokens, the parent's state when a token makes a token, and revoking a token together with everything made from it
/// (a recursive walk over <c>parent_id</c>). A child can therefore never be created after its parent's revocation has
/// looked for children.
/// </summary>
public sealed class SqliteApiTokenStore(SqliteDatabase database) : IApiTokenStore
{
    private const string Columns =
        "id, user_id, name, prefix, digest, scopes, requests_per_second, burst, daily_requests, daily_tokens, daily_cost_micros, created_at, expires_at, revoked_at, last_used_at, parent_id";

    // Revokes the tokens made from the roots ({0}: a SELECT of ids), recursively; the roots themselves are left as
    // they are. UNION stops at repeats, and parent_id is indexed.
    private const string RevokeDescendantsOf = """
        WITH RECURSIVE roots(id) AS ({0}),
        descendants(id) AS (
            SELECT id FROM api_tokens WHERE parent_id IN (SELECT id FROM roots)
            UNION
            SELECT t.id FROM api_tokens t JOIN descendants d ON t.parent_id = d.id)
        UPDATE api_tokens SET revoked_at = @now WHERE revoked_at IS NULL AND id IN (SELECT id FROM descendants);
        """;

    public async Task<ApiTokenCreation> CreateAsync(ApiToken token, bool revokeOthers, int maxActive, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        var now = token.CreatedAt.ToUnixMs();
        if (!revokeOthers && maxActive > 0
            && (long)(await connection.ScalarAsync(
                "SELECT COUNT(*) FROM api_tokens WHERE user_id = @user_id AND revoked_at IS NULL AND expires_at > @now;",
                cancellationToken,
                ("@user_id", token.UserId),
                ("@now", now)))! >= maxActive)
        {
            return new ApiTokenCreation(ApiTokenRefusal.TooManyActive, 0);
        }

        var revoked = 0;
        if (revokeOthers)
        {
            // What the owner's other tokens made goes with them; then the others themselves (counted). The new token is
            // not stored yet, so it is in neither, even when one of the others is its parent.
            await RevokeDescendantsAsync(connection, "SELECT id FROM api_tokens WHERE user_id = @user_id", token.CreatedAt, cancellationToken, ("@user_id", token.UserId));
            revoked = await connection.ExecuteAsync(
                "UPDATE api_tokens SET revoked_at = @now WHERE user_id = @user_id AND revoked_at IS NULL;",
                cancellationToken,
                ("@now", now),
                ("@user_id", token.UserId));
        }

        // After the revocations above: one of them may have taken the parent with it (a chain through another owner's
        // token back to this owner's). Refusing then returns without a commit, so nothing above is kept either.
        if (token.ParentId is { } parentId
            && await connection.ScalarAsync(
                "SELECT 1 FROM api_tokens WHERE id = @id AND revoked_at IS NULL AND expires_at > @now;", cancellationToken, ("@id", parentId), ("@now", now)) is null)
        {
            return new ApiTokenCreation(ApiTokenRefusal.ParentInactive, 0);
        }

        await connection.ExecuteAsync(
            $"""
            INSERT INTO api_tokens ({Columns})
            VALUES (@id, @user_id, @name, @prefix, @digest, @scopes, @rps, @burst, @daily_requests, @daily_tokens, @daily_cost_micros,
                    @created_at, @expires_at, NULL, NULL, @parent_id);
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
            ("@created_at", now),
            ("@expires_at", token.ExpiresAt.ToUnixMs()),
            ("@parent_id", token.ParentId));
        await transaction.CommitAsync();
        return new ApiTokenCreation(ApiTokenRefusal.None, revoked);
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

    /// <summary>The same one statement as <see cref="FindByDigestAsync"/>: there is nothing cheaper to read.</summary>
    public Task<ApiToken?> RefreshAsync(ApiToken known, CancellationToken cancellationToken) => FindByDigestAsync(known.Digest, cancellationToken);

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
        return Page<ApiToken>.FromOverfetch(rows, query.Limit, t => t.Id);
    }

    public async Task<bool> RevokeAsync(string id, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        await RevokeDescendantsAsync(connection, "SELECT @id", now, cancellationToken, ("@id", id));
        var revoked = await connection.ExecuteAsync(
            "UPDATE api_tokens SET revoked_at = @now WHERE id = @id AND revoked_at IS NULL;",
            cancellationToken,
            ("@now", now.ToUnixMs()),
            ("@id", id)) == 1;
        await transaction.CommitAsync();
        return revoked;
    }

    public async Task<int> RevokeAllOfUserAsync(string userId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        var revoked = await RevokeDescendantsAsync(connection, "SELECT id FROM api_tokens WHERE user_id = @user_id", now, cancellationToken, ("@user_id", userId));
        revoked += await connection.ExecuteAsync(
            "UPDATE api_tokens SET revoked_at = @now WHERE user_id = @user_id AND revoked_at IS NULL;",
            cancellationToken,
            ("@now", now.ToUnixMs()),
            ("@user_id", userId));
        await transaction.CommitAsync();
        return revoked;
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
        ParentId = r.IsDBNull(15) ? null : r.GetString(15),
    };

    /// <summary>Revokes what the roots (a SELECT of ids) made, recursively, inside the caller's transaction; returns how many.</summary>
    private static Task<int> RevokeDescendantsAsync(
        SqliteConnectionLease connection, string roots, DateTimeOffset now, CancellationToken cancellationToken, (string Name, object? Value) parameter) =>
        connection.ExecuteAsync(
            string.Format(CultureInfo.InvariantCulture, RevokeDescendantsOf, roots),
            cancellationToken,
            ("@now", now.ToUnixMs()),
            parameter);
}
