using Azure;
using Azure.Data.Tables;
using IronAuth.Core.Sessions;

namespace IronAuth.Core.Storage.Tables;

/// <summary>
/// Each session is a partition of the Sessions table: the session entity and one entity per refresh
/// token, keyed by the token's digest. Refresh tokens are <c>{session id}.{secret}</c>, so a presented
/// token names its partition, and a rotation (spend the old token, add the new one, extend the session)
/// is one entity-group transaction conditional on the ETags read: of concurrent callers presenting one
/// token exactly one commits, and the others re-read and find the token spent. Each user also has an
/// index partition listing its session ids, so "revoke all" needs no table scan.
/// </summary>
public sealed class TableSessionStore(TableStorage storage) : ISessionStore
{
    internal const string SessionKey = "session";
    internal const string TokenPrefix = "rt:";
    internal const string UserIndexPrefix = "user:";
    private const string ReuseReason = "refresh_token_reuse";

    private TableClient Table => storage.Sessions;

    public async Task CreateAsync(Session session, RefreshTokenRecord firstToken, CancellationToken cancellationToken)
    {
        if (!TableEntities.IsKeySafe(session.Id) || !TableEntities.IsKeySafe(session.UserId) || firstToken.SessionId != session.Id)
        {
            throw new ArgumentException("The session's ids must be usable as table keys, and the token must belong to it.", nameof(session));
        }

        // The index entries go first: a session that "revoke all" or maintenance cannot find must never
        // exist. If the transaction below fails, they point at nothing, which both skip.
        await Task.WhenAll(
            Table.InsertAsync(new TableEntity(UserIndexPrefix + session.UserId, session.Id), cancellationToken),
            storage.AddAsync(PurgeIndex.Sessions, session.ExpiresAt, session.Id, cancellationToken),
            storage.AddAsync(PurgeIndex.RefreshTokens, firstToken.ExpiresAt, session.Id, cancellationToken));
        await Table.SubmitEntityGroupAsync(
            [
                new(TableTransactionActionType.Add, ToEntity(session)),
                new(TableTransactionActionType.Add, ToEntity(firstToken)),
            ],
            cancellationToken);
    }

    public async Task<Session?> FindAsync(string sessionId, CancellationToken cancellationToken) =>
        TableEntities.IsKeySafe(sessionId) && await Table.FindAsync(sessionId, SessionKey, cancellationToken) is { } entity
            ? FromEntity(entity)
            : null;

    public async Task<RefreshTokenRecord?> FindRefreshTokenAsync(string sessionId, byte[] digest, CancellationToken cancellationToken) =>
        TableEntities.IsKeySafe(sessionId)
        && await Table.FindAsync(sessionId, TokenPrefix + TableEntities.Hex(digest), cancellationToken) is { } entity
            ? new RefreshTokenRecord(digest, sessionId, entity.RequiredTime("IssuedAt"), entity.RequiredTime("ExpiresAt"), entity.GetDateTimeOffset("SpentAt"))
            : null;

    public async Task<RotationOutcome> RotateAsync(
        string sessionId, byte[] presented, RefreshTokenRecord next, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (!TableEntities.IsKeySafe(sessionId))
        {
            return RotationOutcome.Invalid;
        }

        if (next.SessionId != sessionId)
        {
            throw new ArgumentException("The next token must belong to the same session.", nameof(next));
        }

        var tokenKey = TokenPrefix + TableEntities.Hex(presented);
        var nextKey = TokenPrefix + TableEntities.Hex(next.Digest);
        for (var attempt = 0; ; attempt++)
        {
            // Two point reads in the session's partition, in parallel: one round trip.
            var sessionRead = Table.FindAsync(sessionId, SessionKey, cancellationToken);
            var tokenRead = Table.FindAsync(sessionId, tokenKey, cancellationToken);
            var (session, token) = (await sessionRead, await tokenRead);
            if (token is not null && token.GetDateTimeOffset("SpentAt") is null && (session is null || !FromEntity(session).IsActiveAt(now)))
            {
                // Parallel reads are no snapshot: the token may have been read before a concurrent caller
                // spent it, and the session after that caller revoked it for reuse. Spending is one-way and
                // needs an active session, so the token read again now, after the session, is what decides.
                token = await Table.FindAsync(sessionId, tokenKey, cancellationToken);
            }

            if (token is null)
            {
                return RotationOutcome.Invalid;
            }

            if (token.GetString("SpentFor") == nextKey)
            {
                // This very rotation landed on an earlier attempt (the SDK retried a batch that had
                // committed, or the commit's answer was lost): it is no reuse.
                return RotationOutcome.Rotated;
            }

            if (token.GetDateTimeOffset("SpentAt") is not null)
            {
                // A spent token presented again means it leaked (or a client raced itself): end the session.
                await RevokeCoreAsync(sessionId, null, ReuseReason, now, cancellationToken);
                return RotationOutcome.Reused;
            }

            if (session is null || token.RequiredTime("ExpiresAt") <= now || !FromEntity(session).IsActiveAt(now))
            {
                return RotationOutcome.Invalid;
            }

            var tokenETag = token.ETag;
            var sessionETag = session.ETag;
            token["SpentAt"] = now;
            token["SpentFor"] = nextKey;
            session["ExpiresAt"] = next.ExpiresAt;
            try
            {
                await Table.SubmitEntityGroupAsync(
                    [
                        new(TableTransactionActionType.UpdateReplace, token, tokenETag),
                        new(TableTransactionActionType.Add, ToEntity(next)),
                        new(TableTransactionActionType.UpdateReplace, session, sessionETag),
                    ],
                    cancellationToken);
                return RotationOutcome.Rotated;
            }
            catch (TableTransactionFailedException e)
                when (e.FailedTransactionActionIndex is 0 or 2 && e.Status == TableEntities.PreconditionFailed && storage.MayRetry(attempt))
            {
                // Someone spent the token or changed the session (revoked it, say) first: read again and decide.
                await storage.BackOffAsync("Rotate refresh token", attempt, cancellationToken);
            }
        }
    }

    public Task<bool> RevokeAsync(string sessionId, string reason, DateTimeOffset now, CancellationToken cancellationToken) =>
        TableEntities.IsKeySafe(sessionId)
            ? RevokeCoreAsync(sessionId, null, reason, now, cancellationToken)
            : Task.FromResult(false);

    public async Task<int> RevokeAllAsync(string userId, string? exceptSessionId, string reason, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (!TableEntities.IsKeySafe(userId))
        {
            return 0;
        }

        var ids = new List<string>();
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {UserIndexPrefix + userId}");
        await foreach (var entry in Table.QueryAsync<TableEntity>(filter, select: ["RowKey"], cancellationToken: cancellationToken))
        {
            if (entry.RowKey != exceptSessionId)
            {
                ids.Add(entry.RowKey);
            }
        }

        var revoked = 0;
        await Parallel.ForEachAsync(
            ids,
            new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken },
            async (id, ct) =>
            {
                if (await RevokeCoreAsync(id, userId, reason, now, ct))
                {
                    Interlocked.Increment(ref revoked);
                }
            });
        return revoked;
    }

    /// <summary>Marks the session revoked under its ETag; false when it is missing, already revoked, or another user's.</summary>
    private async Task<bool> RevokeCoreAsync(string sessionId, string? userId, string reason, DateTimeOffset now, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var entity = await Table.FindAsync(sessionId, SessionKey, cancellationToken);
            if (entity is null || entity.GetDateTimeOffset("RevokedAt") is not null
                || (userId is not null && entity.GetString("UserId") != userId))
            {
                return false;
            }

            if (attempt == 0)
            {
                // A revoked session may be purged at once, not only when it would have expired.
                await storage.AddAsync(PurgeIndex.Sessions, now, sessionId, cancellationToken);
            }

            var etag = entity.ETag;
            entity["RevokedAt"] = now;
            entity["RevokedReason"] = reason;
            try
            {
                await Table.UpdateEntityAsync(entity, etag, TableUpdateMode.Replace, cancellationToken);
                return true;
            }
            catch (RequestFailedException e) when (e.Status == TableEntities.PreconditionFailed && storage.MayRetry(attempt))
            {
                await storage.BackOffAsync("Revoke session", attempt, cancellationToken);
            }
            catch (RequestFailedException e) when (e.Status == TableEntities.NotFound)
            {
                return false;
            }
        }
    }

    private static TableEntity ToEntity(Session session)
    {
        var entity = new TableEntity(session.Id, SessionKey)
        {
            ["UserId"] = session.UserId,
            ["CreatedAt"] = session.CreatedAt,
            ["ExpiresAt"] = session.ExpiresAt,
        };
        entity.SetOrRemove("RevokedAt", session.RevokedAt);
        entity.SetOrRemove("RevokedReason", session.RevokedReason);
        return entity;
    }

    private static TableEntity ToEntity(RefreshTokenRecord token) => new(token.SessionId, TokenPrefix + TableEntities.Hex(token.Digest))
    {
        ["IssuedAt"] = token.IssuedAt,
        ["ExpiresAt"] = token.ExpiresAt,
    };

    private static Session FromEntity(TableEntity entity) => new()
    {
        Id = entity.PartitionKey,
        UserId = entity.RequiredString("UserId"),
        CreatedAt = entity.RequiredTime("CreatedAt"),
        ExpiresAt = entity.RequiredTime("ExpiresAt"),
        RevokedAt = entity.GetDateTimeOffset("RevokedAt"),
        RevokedReason = entity.GetString("RevokedReason"),
    };
}
