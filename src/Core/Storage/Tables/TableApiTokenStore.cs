using Azure;
using Azure.Data.Tables;
using IronAuth.Core.Limits;
using IronAuth.Core.Tokens;

namespace IronAuth.Core.Storage.Tables;

/// <summary>
/// API tokens in the Tokens table, a partition per owner (<c>user:{ownerId}</c>, row <c>token:{tokenId}</c>),
/// so that "create a token and revoke the owner's others" is one entity-group transaction. The owner's
/// <c>latest</c> entity is written by every create, under its ETag (or inserted: 409 for the second), because
/// ETags cannot guard an absence: two concurrent creates that each found no other active token would both
/// commit without it. Two lookups lead to the owner's partition: the digest index
/// (<c>digest:{hex}</c>/<c>token</c>) for verification, and the token's <c>limits</c> entity in the Metering
/// table (partition = token id), which also holds its last use. Both are inserted before the token (each
/// fails with 409 on a duplicate), so an index entry whose token never landed points at nothing and finds nothing.
/// <para>
/// A token made by another token is indexed under its parent: a <c>child:{tokenId}</c> row in the parent's Metering
/// partition (deleted with it by maintenance), inserted before the child itself. Revoking a token marks it revoked
/// first and then looks for children; creating a child stores it and then reads its parent again, revoking itself if
/// the parent has been revoked meanwhile. Whatever the interleaving, one of the two sees the other: if the child's
/// second read came before the parent was marked, the child (and its index row) were stored before the revocation
/// looked for children, and it finds it. Revocation goes parent first and then down the tree; a revoke that fails
/// part-way is finished by repeating it (descendants are visited even when the token itself already was revoked).
/// </para>
/// </summary>
public sealed class TableApiTokenStore(TableStorage storage, TableMeteringStore metering) : IApiTokenStore
{
    private const string UserPrefix = "user:";
    private const string TokenPrefix = "token:";
    private const string TokenEnd = "token;";
    private const string DigestPrefix = "digest:";
    private const string DigestKey = "token";
    private const string LatestKey = "latest";
    private const string ChildPrefix = "child:";
    private const string ChildEnd = "child;";

    // Revoking others and adding the token and the latest marker must fit in one transaction.
    private const int MaxRevokedPerTransaction = TableBatch.MaxActions - 2;

    private TableClient Table => storage.Tokens;

    public async Task<ApiTokenCreation> CreateAsync(ApiToken token, bool revokeOthers, int maxActive, CancellationToken cancellationToken)
    {
        if (!TableEntities.IsKeySafe(token.Id) || !TableEntities.IsKeySafe(token.UserId) || token.ParentId is { } unsafeParent && !TableEntities.IsKeySafe(unsafeParent))
        {
            throw new ArgumentException("The token's, owner's and parent's ids must be usable as table keys.", nameof(token));
        }

        if (token.ParentId is { } parent && !await IsActiveAsync(parent, token.CreatedAt, cancellationToken))
        {
            return new ApiTokenCreation(ApiTokenRefusal.ParentInactive, 0);
        }

        var digest = TableEntities.Hex(token.Digest);
        var limits = TableMeteringStore.NewTokenLimits(token.Id, token.UserId, digest);
        async Task InsertLookupsAsync()
        {
            List<Task> inserts =
            [
                InsertLimitsAsync(),
                InsertUniqueAsync(Table, new TableEntity(DigestPrefix + digest, DigestKey) { ["OwnerId"] = token.UserId, ["TokenId"] = token.Id }, "TokenId", token.Id, "token digest", cancellationToken),
                storage.AddAsync(PurgeIndex.ApiTokens, token.ExpiresAt, token.Id, cancellationToken),
                storage.AddAsync(PurgeIndex.Usage, PurgeIndex.Midnight(UsageDay.DayOf(token.CreatedAt)), token.Id, cancellationToken),
            ];
            if (token.ParentId is { } parentId)
            {
                // Before the token, so that a revocation of the parent that finds no index row cannot miss a stored child.
                inserts.Add(InsertUniqueAsync(storage.Metering, new TableEntity(parentId, ChildPrefix + token.Id) { ["OwnerId"] = token.UserId }, "OwnerId", token.UserId, "child index", cancellationToken));
            }

            await Task.WhenAll(inserts);
        }

        async Task InsertLimitsAsync()
        {
            try
            {
                // Remembered with its ETag, so the token's first verify in this process writes without reading.
                limits.ETag = (await storage.Metering.AddEntityAsync(limits, cancellationToken)).Headers.ETag ?? default;
                metering.Seed(token.Id, limits);
            }
            catch (RequestFailedException e) when (e.Status == TableEntities.Conflict)
            {
                await InsertUniqueAsync(storage.Metering, limits, "OwnerId", token.UserId, "token id", cancellationToken);
            }
        }

        var partition = UserPrefix + token.UserId;
        var indexed = new HashSet<string>(StringComparer.Ordinal);
        var inserted = false;
        // The cap needs what the one-active policy needs: the owner's unrevoked tokens, read with the marker, and the
        // marker written under its ETag, so concurrent creates cannot both find room for one more.
        var guarded = revokeOthers || maxActive > 0;
        for (var attempt = 0; ; attempt++)
        {
            var actions = new List<TableTransactionAction>();
            TableEntity? latest = null;
            var others = new List<TableEntity>();
            if (guarded)
            {
                // The marker and every unrevoked token of the owner, in one range read of the partition.
                var filter = TableClient.CreateQueryFilter(
                    $"PartitionKey eq {partition} and (RowKey eq {LatestKey} or (RowKey ge {TokenPrefix} and RowKey lt {TokenEnd} and Revoked eq false))");
                await foreach (var entity in Table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
                {
                    if (entity.RowKey == LatestKey)
                    {
                        latest = entity;
                    }
                    else if (entity.RowKey == TokenPrefix + token.Id)
                    {
                        // An earlier attempt landed after all (the SDK resent a transaction that had committed);
                        // what it revoked is not known any more, only that nothing else is active.
                        return new ApiTokenCreation(ApiTokenRefusal.None, 0);
                    }
                    else
                    {
                        others.Add(entity);
                    }
                }

                if (!revokeOthers && others.Count(o => o.RequiredTime("ExpiresAt") > token.CreatedAt) >= maxActive)
                {
                    return new ApiTokenCreation(ApiTokenRefusal.TooManyActive, 0);
                }

                if (!revokeOthers)
                {
                    others.Clear();
                }
            }

            if (!inserted)
            {
                await InsertLookupsAsync();
                inserted = true;
            }

            // Revoked tokens are purged from their revocation on: index them before they are revoked.
            await Task.WhenAll(others.Where(o => indexed.Add(o.RowKey)).Select(o =>
                storage.AddAsync(PurgeIndex.ApiTokens, token.CreatedAt, o.RowKey[TokenPrefix.Length..], cancellationToken)));
            foreach (var other in others.Take(MaxRevokedPerTransaction))
            {
                var etag = other.ETag;
                other["Revoked"] = true;
                other["RevokedAt"] = token.CreatedAt;
                actions.Add(new TableTransactionAction(TableTransactionActionType.UpdateReplace, other, etag));
            }

            // More active tokens than one transaction can revoke (the policy was just switched on): revoke a
            // chunk under the marker's ETag and go round again; the token is added with the last chunk.
            var final = others.Count <= MaxRevokedPerTransaction;
            if (final)
            {
                actions.Add(new TableTransactionAction(TableTransactionActionType.Add, ToEntity(token)));
            }

            var marker = new TableEntity(partition, LatestKey) { ["TokenId"] = token.Id };
            actions.Add(!guarded
                ? new TableTransactionAction(TableTransactionActionType.UpsertReplace, marker)
                : latest is null
                    ? new TableTransactionAction(TableTransactionActionType.Add, marker)
                    : new TableTransactionAction(TableTransactionActionType.UpdateReplace, marker, latest.ETag));
            try
            {
                await Table.SubmitEntityGroupAsync(actions, cancellationToken);
                foreach (var other in others)
                {
                    // What the revoked tokens made goes with them (not this token, even if one of them is its parent).
                    await RevokeDescendantsAsync(other.RowKey[TokenPrefix.Length..], token.CreatedAt, token.Id, cancellationToken);
                }

                if (final)
                {
                    return await ParentStillActiveAsync() ? new ApiTokenCreation(ApiTokenRefusal.None, others.Count) : new ApiTokenCreation(ApiTokenRefusal.ParentInactive, 0);
                }
            }
            catch (TableTransactionFailedException e)
                when (e.Status is TableEntities.PreconditionFailed or TableEntities.Conflict or TableEntities.NotFound && storage.MayRetry(attempt))
            {
                // Another create (or a revoke) changed the owner's tokens first: read them again and decide again.
                await storage.BackOffAsync("Create API token", attempt, cancellationToken);
            }
        }

        async Task<bool> ParentStillActiveAsync()
        {
            // The second read of the parent (see the class comment): a parent revoked meanwhile takes the child with it.
            if (token.ParentId is not { } parentId || await IsActiveAsync(parentId, token.CreatedAt, CancellationToken.None))
            {
                return true;
            }

            await RevokeAsync(token.Id, token.CreatedAt, CancellationToken.None);
            return false;
        }
    }

    public async Task<ApiToken?> FindByIdAsync(string id, CancellationToken cancellationToken)
    {
        if (!TableEntities.IsKeySafe(id) || await storage.Metering.FindAsync(id, TableMeteringStore.LimitsKey, cancellationToken) is not { } limits
            || limits.GetString("OwnerId") is not { } ownerId)
        {
            return null;
        }

        return await Table.FindAsync(UserPrefix + ownerId, TokenPrefix + id, cancellationToken) is { } entity ? FromEntity(entity, LastUse(limits)) : null;
    }

    public async Task<ApiToken?> FindByDigestAsync(byte[] digest, CancellationToken cancellationToken)
    {
        var hex = TableEntities.Hex(digest);
        if (await Table.FindAsync(DigestPrefix + hex, DigestKey, cancellationToken) is not { } index)
        {
            return null;
        }

        var tokenId = index.RequiredString("TokenId");
        var tokenRead = Table.FindAsync(UserPrefix + index.RequiredString("OwnerId"), TokenPrefix + tokenId, cancellationToken);
        var limitsRead = storage.Metering.FindAsync(tokenId, TableMeteringStore.LimitsKey, cancellationToken);
        var (entity, limits) = (await tokenRead, await limitsRead);
        return entity is not null && entity.GetString("Digest") == hex ? FromEntity(entity, LastUse(limits)) : null;
    }

    /// <summary>
    /// One round trip where <see cref="FindByDigestAsync"/> makes three: the token entity, found by its owner and id
    /// (neither of which changes, nor does the digest the index maps to them), holds all that another process can
    /// change on a token. Only last use lives elsewhere (the <c>limits</c> entity), and the verifier needs no fresh
    /// copy of it: here the metering write records it anyway, so the known one is kept.
    /// </summary>
    public async Task<ApiToken?> RefreshAsync(ApiToken known, CancellationToken cancellationToken) =>
        await Table.FindAsync(UserPrefix + known.UserId, TokenPrefix + known.Id, cancellationToken) is { } entity
        && entity.GetString("Digest") == TableEntities.Hex(known.Digest)
            ? FromEntity(entity, known.LastUsedAt)
            : null;

    public async Task<Page<ApiToken>> ListAsync(ApiTokenQuery query, CancellationToken cancellationToken)
    {
        string filter;
        if (query.UserId is not null)
        {
            if (!TableEntities.IsKeySafe(query.UserId))
            {
                return new Page<ApiToken>([], null);
            }

            var partition = UserPrefix + query.UserId;
            var from = TokenPrefix + (query.Position ?? "");
            filter = query.Position is null
                ? TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey ge {from} and RowKey lt {TokenEnd}")
                : TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey gt {from} and RowKey lt {TokenEnd}");
        }
        else if (query.Position is { } position && position.Split('.') is [var owner, var after])
        {
            // Everyone's tokens, owner by owner: the rest of this owner's partition, then the later owners'.
            filter = TableClient.CreateQueryFilter(
                $"((PartitionKey eq {UserPrefix + owner} and RowKey gt {TokenPrefix + after}) or (PartitionKey gt {UserPrefix + owner} and PartitionKey lt {"user;"})) and RowKey ge {TokenPrefix} and RowKey lt {TokenEnd}");
        }
        else
        {
            filter = TableClient.CreateQueryFilter($"PartitionKey ge {UserPrefix} and PartitionKey lt {"user;"} and RowKey ge {TokenPrefix} and RowKey lt {TokenEnd}");
        }

        var rows = new List<TableEntity>(query.Limit + 1);
        await foreach (var entity in Table.QueryAsync<TableEntity>(filter, Math.Min(query.Limit + 1, 1000), cancellationToken: cancellationToken))
        {
            rows.Add(entity);
            if (rows.Count > query.Limit)
            {
                break;
            }
        }

        var more = rows.Count > query.Limit;
        if (more)
        {
            rows.RemoveAt(rows.Count - 1);
        }

        // Last use lives with the token's metering state (the hot path writes it there for free): a point read each.
        var tokens = new ApiToken[rows.Count];
        await Parallel.ForAsync(0, rows.Count, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken }, async (i, ct) =>
        {
            var limits = await storage.Metering.FindAsync(rows[i].RowKey[TokenPrefix.Length..], TableMeteringStore.LimitsKey, ct);
            tokens[i] = FromEntity(rows[i], LastUse(limits));
        });
        var next = more ? (query.UserId is null ? $"{tokens[^1].UserId}.{tokens[^1].Id}" : tokens[^1].Id) : null;
        return new Page<ApiToken>(tokens, next);
    }

    public async Task<bool> RevokeAsync(string id, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (!TableEntities.IsKeySafe(id) || await storage.Metering.FindAsync(id, TableMeteringStore.LimitsKey, cancellationToken) is not { } limits
            || limits.GetString("OwnerId") is not { } ownerId)
        {
            return false;
        }

        // The token first, then what it made (see the class comment for why this order wins the race with a create).
        var revoked = await RevokeOneAsync(ownerId, id, now, cancellationToken);
        await RevokeDescendantsAsync(id, now, null, cancellationToken);
        return revoked;
    }

    public async Task<int> RevokeAllOfUserAsync(string userId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (!TableEntities.IsKeySafe(userId))
        {
            return 0;
        }

        var partition = UserPrefix + userId;
        var ids = new List<string>();
        await foreach (var entity in Table.QueryAsync<TableEntity>(
            TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey ge {TokenPrefix} and RowKey lt {TokenEnd}"), select: ["RowKey"], cancellationToken: cancellationToken))
        {
            ids.Add(entity.RowKey[TokenPrefix.Length..]);
        }

        var revoked = 0;
        foreach (var id in ids)
        {
            // Each token with its own conditional write (at most IronAuth:Tokens:MaxActivePerUser are unrevoked), then
            // its descendants, which may belong to other users.
            revoked += await RevokeOneAsync(userId, id, now, cancellationToken) ? 1 : 0;
            revoked += await RevokeDescendantsAsync(id, now, null, cancellationToken);
        }

        return revoked;
    }

    /// <summary>Whether the token exists, is unrevoked and has not expired at <paramref name="now"/>.</summary>
    private async Task<bool> IsActiveAsync(string id, DateTimeOffset now, CancellationToken cancellationToken) =>
        await FindByIdAsync(id, cancellationToken) is { RevokedAt: null } token && token.ExpiresAt > now;

    /// <summary>Revokes one token in its owner's partition: false when it is missing or already revoked.</summary>
    private async Task<bool> RevokeOneAsync(string ownerId, string id, DateTimeOffset now, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            if (await Table.FindAsync(UserPrefix + ownerId, TokenPrefix + id, cancellationToken) is not { } entity || entity.GetBoolean("Revoked") == true)
            {
                return false;
            }

            if (attempt == 0)
            {
                await storage.AddAsync(PurgeIndex.ApiTokens, now, id, cancellationToken);
            }

            var etag = entity.ETag;
            entity["Revoked"] = true;
            entity["RevokedAt"] = now;
            try
            {
                await Table.UpdateEntityAsync(entity, etag, TableUpdateMode.Replace, cancellationToken);
                return true;
            }
            catch (RequestFailedException e) when (e.Status == TableEntities.PreconditionFailed && storage.MayRetry(attempt))
            {
                await storage.BackOffAsync("Revoke API token", attempt, cancellationToken);
            }
        }
    }

    /// <summary>
    /// Revokes every token made from <paramref name="rootId"/>, breadth first through the child index rows, except
    /// <paramref name="spare"/> (a token being created right now under a parent the one-active policy revokes).
    /// Returns how many this call revoked.
    /// </summary>
    private async Task<int> RevokeDescendantsAsync(string rootId, DateTimeOffset now, string? spare, CancellationToken cancellationToken)
    {
        var revoked = 0;
        var pending = new Queue<string>([rootId]);
        var seen = new HashSet<string>(StringComparer.Ordinal) { rootId };
        while (pending.TryDequeue(out var parentId))
        {
            var filter = TableClient.CreateQueryFilter($"PartitionKey eq {parentId} and RowKey ge {ChildPrefix} and RowKey lt {ChildEnd}");
            await foreach (var row in storage.Metering.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
            {
                var childId = row.RowKey[ChildPrefix.Length..];
                if (childId != spare && seen.Add(childId) && row.GetString("OwnerId") is { } ownerId)
                {
                    revoked += await RevokeOneAsync(ownerId, childId, now, cancellationToken) ? 1 : 0;
                    pending.Enqueue(childId);
                }
            }
        }

        return revoked;
    }

    /// <summary>
    /// Last use is part of the token's metering entity, which every admitted verify writes anyway; so after
    /// a verify this costs nothing, and otherwise it is one conditional write that keeps the later time.
    /// </summary>
    public Task TouchAsync(string id, DateTimeOffset usedAt, CancellationToken cancellationToken) =>
        metering.TouchAsync(id, usedAt, cancellationToken);

    /// <summary>Inserts a uniqueness entity; a 409 is fine only if the entity there is this very one (an SDK resend).</summary>
    private static async Task InsertUniqueAsync(TableClient table, TableEntity entity, string property, string expected, string what, CancellationToken cancellationToken)
    {
        if (!await table.InsertAsync(entity, cancellationToken)
            && (await table.FindAsync(entity.PartitionKey, entity.RowKey, cancellationToken))?.GetString(property) != expected)
        {
            throw new InvalidOperationException($"Another API token has this {what}.");
        }
    }

    private static TableEntity ToEntity(ApiToken token)
    {
        var entity = new TableEntity(UserPrefix + token.UserId, TokenPrefix + token.Id)
        {
            ["Name"] = token.Name,
            ["Prefix"] = token.Prefix,
            ["Digest"] = TableEntities.Hex(token.Digest),
            ["Scopes"] = string.Join(' ', token.Scopes),
            ["RequestsPerSecond"] = token.Limits.RequestsPerSecond,
            ["Burst"] = token.Limits.Burst,
            ["DailyRequests"] = token.Limits.DailyRequests,
            ["DailyTokens"] = token.Limits.DailyTokens,
            ["DailyCostMicros"] = Money.ToMicros(token.Limits.DailyCost),
            ["CreatedAt"] = token.CreatedAt,
            ["ExpiresAt"] = token.ExpiresAt,
            ["Revoked"] = token.RevokedAt is not null,
        };
        entity.SetOrRemove("ParentId", token.ParentId);
        entity.SetOrRemove("RevokedAt", token.RevokedAt);
        return entity;
    }

    private static DateTimeOffset? LastUse(TableEntity? limits) => limits?.GetDateTimeOffset("LastUsedAt");

    private static ApiToken FromEntity(TableEntity entity, DateTimeOffset? lastUsedAt) => new()
    {
        Id = entity.RowKey[TokenPrefix.Length..],
        UserId = entity.PartitionKey[UserPrefix.Length..],
        Name = entity.RequiredString("Name"),
        Prefix = entity.RequiredString("Prefix"),
        Digest = Convert.FromHexString(entity.RequiredString("Digest")),
        Scopes = entity.RequiredString("Scopes").Split(' ', StringSplitOptions.RemoveEmptyEntries),
        Limits = new TokenLimits(
            entity.GetDouble("RequestsPerSecond") ?? 0,
            entity.Int("Burst"),
            entity.GetInt64("DailyRequests") ?? 0,
            entity.GetInt64("DailyTokens") ?? 0,
            Money.FromMicros(entity.GetInt64("DailyCostMicros") ?? 0)),
        CreatedAt = entity.RequiredTime("CreatedAt"),
        ExpiresAt = entity.RequiredTime("ExpiresAt"),
        RevokedAt = entity.GetDateTimeOffset("RevokedAt"),
        LastUsedAt = lastUsedAt,
        ParentId = entity.GetString("ParentId"),
    };
}
