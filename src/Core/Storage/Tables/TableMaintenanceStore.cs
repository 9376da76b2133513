using Azure;
using Azure.Data.Tables;
using IronAuth.Core.Limits;
using IronAuth.Core.Maintenance;

namespace IronAuth.Core.Storage.Tables;

/// <summary>
/// Bounded purges driven by the purge index (<see cref="PurgeIndex"/>): each visits the index entries of its
/// kind that are due, checks the record they point at against the rule, deletes it (idempotently: a delete of
/// something already gone is fine, and records nobody writes any more are deleted unconditionally) or moves
/// the entry to when it is due again. No purge reads a data table beyond the partitions its entries name.
/// The lease is one entity per name, taken by an ETag-conditional write: of concurrent takers one wins, the
/// others get 412 (or 409 for the first insert).
/// </summary>
public sealed class TableMaintenanceStore(TableStorage storage) : IMaintenanceStore, ILeaseStore
{
    private const string LeasePartition = "lease";

    public Task<int> PurgeSessionsAsync(DateTimeOffset now, int batch, CancellationToken cancellationToken) =>
        storage.PurgeAsync(PurgeIndex.Sessions, now, batch, PurgeIndex.Parallelism, async (entry, _, ct) =>
        {
            var sessionId = entry.Key;
            if (await storage.Sessions.FindAsync(sessionId, TableSessionStore.SessionKey, ct) is not { } session)
            {
                return PurgeIndex.Visit.Done(0);
            }

            var expiresAt = session.RequiredTime("ExpiresAt");
            if (session.GetDateTimeOffset("RevokedAt") is null && expiresAt > now)
            {
                // Extended by rotations since it was indexed: due again when it now expires.
                return PurgeIndex.Visit.Later(expiresAt);
            }

            // The session with all its refresh tokens, then the owner's index entry (which may outlive it harmlessly).
            var rows = new List<string>();
            await foreach (var row in storage.Sessions.QueryAsync<TableEntity>(
                TableClient.CreateQueryFilter($"PartitionKey eq {sessionId}"), select: ["RowKey"], cancellationToken: ct))
            {
                rows.Add(row.RowKey);
            }

            await storage.Sessions.DeleteAllAsync(sessionId, [.. rows.Where(r => r != TableSessionStore.SessionKey), TableSessionStore.SessionKey], ct);
            await storage.Sessions.DeleteEntityAsync(TableSessionStore.UserIndexPrefix + session.RequiredString("UserId"), sessionId, ETag.All, ct);
            return PurgeIndex.Visit.Done(1);
        }, cancellationToken);

    public Task<int> PurgeRefreshTokensAsync(DateTimeOffset now, int batch, CancellationToken cancellationToken) =>
        storage.PurgeAsync(PurgeIndex.RefreshTokens, now, batch, 1, async (entry, budget, ct) =>
        {
            // Within the one session the entry names: its refresh tokens past expiry. Spent but unexpired ones
            // stay, because presenting one again is how reuse is detected.
            var sessionId = entry.Key;
            var expired = new List<string>();
            DateTimeOffset? nextExpiry = null;
            var filter = TableClient.CreateQueryFilter($"PartitionKey eq {sessionId} and RowKey ge {TableSessionStore.TokenPrefix} and RowKey lt {"rt;"}");
            await foreach (var row in storage.Sessions.QueryAsync<TableEntity>(filter, select: ["RowKey", "ExpiresAt"], cancellationToken: ct))
            {
                var expiresAt = row.RequiredTime("ExpiresAt");
                if (expiresAt <= now && expired.Count < budget)
                {
                    expired.Add(row.RowKey);
                }
                else
                {
                    nextExpiry = nextExpiry is { } earliest && earliest < expiresAt ? earliest : expiresAt;
                }
            }

            await storage.Sessions.DeleteAllAsync(sessionId, expired, ct);
            // Beyond the budget some expired ones are left: then nextExpiry is now, and the entry stays for the next call.
            return new PurgeIndex.Visit(expired.Count, nextExpiry);
        }, cancellationToken);

    public Task<int> PurgeApiTokensAsync(DateTimeOffset threshold, int batch, CancellationToken cancellationToken) =>
        storage.PurgeAsync(PurgeIndex.ApiTokens, threshold, batch, PurgeIndex.Parallelism, async (entry, _, ct) =>
        {
            var tokenId = entry.Key;
            if (await storage.Metering.FindAsync(tokenId, TableMeteringStore.LimitsKey, ct) is not { } limits
                || limits.GetString("OwnerId") is not { } ownerId)
            {
                return PurgeIndex.Visit.Done(0);
            }

            var token = await storage.Tokens.FindAsync("user:" + ownerId, "token:" + tokenId, ct);
            if (token is not null)
            {
                var revokedAt = token.GetDateTimeOffset("RevokedAt");
                var expiresAt = token.RequiredTime("ExpiresAt");
                if (!(revokedAt < threshold || expiresAt < threshold))
                {
                    return PurgeIndex.Visit.Later(revokedAt is { } r && r < expiresAt ? r : expiresAt);
                }
            }

            // A token never created (its transaction failed after the lookups were inserted) is cleaned up the
            // same way, without counting. The limits entity goes last: it is what leads here again after a crash.
            await storage.Tokens.DeleteEntityAsync("digest:" + limits.RequiredString("Digest"), "token", ETag.All, ct);
            if (token is not null)
            {
                await storage.Tokens.DeleteEntityAsync(token.PartitionKey, token.RowKey, ETag.All, ct);
            }

            var rows = new List<string>();
            await foreach (var row in storage.Metering.QueryAsync<TableEntity>(
                TableClient.CreateQueryFilter($"PartitionKey eq {tokenId}"), select: ["RowKey"], cancellationToken: ct))
            {
                rows.Add(row.RowKey);
            }

            await storage.Metering.DeleteAllAsync(tokenId, [.. rows.Where(r => r != TableMeteringStore.LimitsKey), TableMeteringStore.LimitsKey], ct);
            return PurgeIndex.Visit.Done(token is null ? 0 : 1);
        }, cancellationToken);

    public Task<int> PurgePasswordResetsAsync(DateTimeOffset now, int batch, CancellationToken cancellationToken) =>
        storage.PurgeAsync(PurgeIndex.Resets, now, batch, PurgeIndex.Parallelism, async (entry, _, ct) =>
        {
            var (userId, digest) = TablePasswordResetStore.ParseIndexKey(entry.Key);
            var ticket = await storage.Resets.FindAsync(TablePasswordResetStore.UserPrefix + userId, digest, ct);
            if (ticket is not null && ticket.GetBoolean("Spent") != true && ticket.RequiredTime("ExpiresAt") > now)
            {
                return PurgeIndex.Visit.Later(ticket.RequiredTime("ExpiresAt"));
            }

            await storage.Resets.DeleteEntityAsync(TablePasswordResetStore.DigestPrefix + digest, TablePasswordResetStore.DigestKey, ETag.All, ct);
            if (ticket is not null)
            {
                await storage.Resets.DeleteEntityAsync(ticket.PartitionKey, ticket.RowKey, ETag.All, ct);
            }

            return PurgeIndex.Visit.Done(ticket is null ? 0 : 1);
        }, cancellationToken);

    public Task<int> PurgeFullBucketsAsync(DateTimeOffset now, int batch, CancellationToken cancellationToken) =>
        storage.PurgeAsync(PurgeIndex.Buckets, now, batch, PurgeIndex.Parallelism, async (entry, _, ct) =>
        {
            // Only keys that are not API tokens are indexed here: a token's entity goes with the token.
            var key = entry.Key;
            if (await storage.Metering.FindAsync(key, TableMeteringStore.LimitsKey, ct) is not { } limits || limits.ContainsKey("OwnerId"))
            {
                return PurgeIndex.Visit.Done(0);
            }

            var fullAt = DateTimeOffset.FromUnixTimeMilliseconds(limits.GetInt64("FullAt") ?? 0);
            if (fullAt > now)
            {
                return PurgeIndex.Visit.Later(fullAt);
            }

            var today = UsageDay.DayOf(now);
            var day = limits.GetString("Day") is { } value ? TableMeteringStore.ParseDay(value) : (DateOnly?)null;
            if (day >= today)
            {
                // Today's counters are what quotas are checked against: the entity stays until the day is over.
                return PurgeIndex.Visit.Later(PurgeIndex.Midnight(today.AddDays(1)));
            }

            // A full bucket changes nothing when it is deleted (a new one starts full), but a take that landed
            // since the read does: the delete is conditional on the ETag read. Counters of a finished day
            // become its history row in the same transaction.
            List<TableTransactionAction> actions = [new(TableTransactionActionType.Delete, limits, limits.ETag)];
            if (day is { } finished)
            {
                var history = new TableEntity(key, "day:" + TableMeteringStore.DayKey(finished))
                {
                    ["Requests"] = limits.GetInt64("Requests") ?? 0,
                    ["LlmTokens"] = limits.GetInt64("LlmTokens") ?? 0,
                    ["CostMicros"] = limits.GetInt64("CostMicros") ?? 0,
                };
                history.SetOrRemove("Mix", limits.GetString("Mix"));
                actions.Add(new TableTransactionAction(TableTransactionActionType.Add, history));
            }

            try
            {
                await storage.Metering.SubmitEntityGroupAsync(actions, ct);
                return PurgeIndex.Visit.Done(1);
            }
            catch (TableTransactionFailedException e) when (e.Status is TableEntities.PreconditionFailed or TableEntities.Conflict or TableEntities.NotFound)
            {
                // Taken from meanwhile (or its day's row exists): look again tomorrow.
                return PurgeIndex.Visit.Later(PurgeIndex.Midnight(today.AddDays(1)));
            }
        }, cancellationToken);

    public async Task<int> PurgeUsageAsync(DateOnly before, int batch, CancellationToken cancellationToken)
    {
        var purged = await PurgeUsageDaysAsync(before, batch, cancellationToken);
        // The activity index of the same days (spending analytics) goes with them; its entries are not counted.
        await storage.PurgeAsync(
            PurgeIndex.Activity, PurgeIndex.Midnight(before).AddHours(-1), batch, PurgeIndex.Parallelism, (_, _, _) => Task.FromResult(PurgeIndex.Visit.Done(0)), cancellationToken);
        return purged;
    }

    private Task<int> PurgeUsageDaysAsync(DateOnly before, int batch, CancellationToken cancellationToken) =>
        // Entries sit at the midnight of the oldest day a key may hold; those of days before `before` are due.
        storage.PurgeAsync(PurgeIndex.Usage, PurgeIndex.Midnight(before).AddHours(-1), batch, 1, async (entry, budget, ct) =>
        {
            var key = entry.Key;
            var old = new List<string>();
            DateOnly? oldestKept = null;
            await foreach (var row in storage.Metering.QueryAsync<TableEntity>(
                TableClient.CreateQueryFilter($"PartitionKey eq {key}"), select: ["RowKey", "Day"], cancellationToken: ct))
            {
                var day = row.RowKey == TableMeteringStore.LimitsKey
                    ? row.GetString("Day") is { } value ? TableMeteringStore.ParseDay(value) : (DateOnly?)null
                    : TableMeteringStore.HistoryRow(key, row)?.Day;
                if (day is not { } d)
                {
                    continue;
                }

                if (d < before && row.RowKey != TableMeteringStore.LimitsKey && old.Count < budget)
                {
                    old.Add(row.RowKey);
                }
                else
                {
                    oldestKept = oldestKept is { } kept && kept < d ? kept : d;
                }
            }

            await storage.Metering.DeleteAllAsync(key, old, ct);
            return new PurgeIndex.Visit(old.Count, oldestKept is { } next ? PurgeIndex.Midnight(next) : null);
        }, cancellationToken);

    // --- ops/usage (issue 19)
    public Task<int> PurgeUsageRequestsAsync(DateTimeOffset before, int batch, CancellationToken cancellationToken) =>
        // Entries sit at the second midnight after the day a token stored keys, when they are all purgeable (they
        // are due at "before + retention", i.e. now); each visit deletes the token's keys stored before `before` and
        // comes back when the oldest remaining one is.
        storage.PurgeAsync(PurgeIndex.UsageRequests, before + UsageReplay.Retention, batch, 1, async (entry, budget, ct) =>
        {
            var key = entry.Key;
            var old = new List<string>();
            DateTimeOffset? oldestKept = null;
            await foreach (var row in storage.Metering.QueryAsync<TableEntity>(
                TableClient.CreateQueryFilter($"PartitionKey eq {key} and RowKey ge {TableMeteringStore.RequestPrefix} and RowKey lt {"req;"}"),
                select: ["RowKey", "At"],
                cancellationToken: ct))
            {
                var at = row.GetDateTimeOffset("At") ?? DateTimeOffset.MinValue;
                if (at < before && old.Count < budget)
                {
                    old.Add(row.RowKey);
                }
                else
                {
                    oldestKept = oldestKept is { } kept && kept < at ? kept : at;
                }
            }

            await storage.Metering.DeleteAllAsync(key, old, ct);
            return new PurgeIndex.Visit(old.Count, oldestKept is { } next ? next + UsageReplay.Retention : null);
        }, cancellationToken);

    // --- end ops/usage

    public Task<int> PurgeEmailCodesAsync(DateTimeOffset now, int batch, CancellationToken cancellationToken) =>
        storage.PurgeAsync(PurgeIndex.EmailCodes, now, batch, PurgeIndex.Parallelism, async (entry, _, ct) =>
        {
            // The entry's key is the address's partition (a hash, never the address). A put for the address since
            // the entry was written replaced the code in place with a later expiry (and its own entry).
            if (await storage.EmailCodes.FindAsync(entry.Key, TableEmailCodeStore.RowKey, ct) is not { } code)
            {
                return PurgeIndex.Visit.Done(0);
            }

            var expiresAt = code.RequiredTime("ExpiresAt");
            if (code.GetBoolean("Spent") != true && expiresAt > now)
            {
                return PurgeIndex.Visit.Later(expiresAt);
            }

            try
            {
                // Conditional on the ETag read: a new code put meanwhile (an upsert, so a new ETag) is not deleted.
                await storage.EmailCodes.DeleteEntityAsync(code.PartitionKey, code.RowKey, code.ETag, ct);
                return PurgeIndex.Visit.Done(1);
            }
            catch (RequestFailedException e) when (e.Status is TableEntities.PreconditionFailed or TableEntities.NotFound)
            {
                // Replaced (the new code has its own entry) or deleted by a concurrent run.
                return PurgeIndex.Visit.Done(0);
            }
        }, cancellationToken);

    public Task<int> PurgeMfaChallengesAsync(DateTimeOffset now, int batch, CancellationToken cancellationToken) =>
        storage.PurgeAsync(PurgeIndex.MfaChallenges, now, batch, PurgeIndex.Parallelism, async (entry, _, ct) =>
        {
            var partition = TableMfaStore.ChallengePartition(entry.Key);
            if (await storage.Mfa.FindAsync(partition, TableMfaStore.ChallengeKey, ct) is not { } challenge)
            {
                return PurgeIndex.Visit.Done(0);
            }

            var expiresAt = challenge.RequiredTime("ExpiresAt");
            if (challenge.GetBoolean("Spent") != true && expiresAt > now)
            {
                return PurgeIndex.Visit.Later(expiresAt);
            }

            // Unconditional: a challenge that is spent or expired is written by nobody any more (a spend checks expiry).
            await storage.Mfa.DeleteEntityAsync(partition, TableMfaStore.ChallengeKey, ETag.All, ct);
            return PurgeIndex.Visit.Done(1);
        }, cancellationToken);

    public async Task<bool> TryAcquireAsync(string name, string holder, DateTimeOffset until, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var lease = new TableEntity(LeasePartition, name) { ["Holder"] = holder, ["Until"] = until };
        var current = await storage.Leases.FindAsync(LeasePartition, name, cancellationToken);
        if (current is null)
        {
            return await storage.Leases.InsertAsync(lease, cancellationToken);
        }

        if (current.RequiredTime("Until") > now && current.GetString("Holder") != holder)
        {
            return false;
        }

        try
        {
            await storage.Leases.UpdateEntityAsync(lease, current.ETag, TableUpdateMode.Replace, cancellationToken);
            return true;
        }
        catch (RequestFailedException e) when (e.Status is TableEntities.PreconditionFailed or TableEntities.NotFound)
        {
            // Someone else took it between the read and the write.
            return false;
        }
    }

    public async Task ReleaseAsync(string name, string holder, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (await storage.Leases.FindAsync(LeasePartition, name, cancellationToken) is not { } current || current.GetString("Holder") != holder)
        {
            return;
        }

        current["Until"] = now;
        try
        {
            await storage.Leases.UpdateEntityAsync(current, current.ETag, TableUpdateMode.Replace, cancellationToken);
        }
        catch (RequestFailedException e) when (e.Status is TableEntities.PreconditionFailed or TableEntities.NotFound)
        {
            // Lapsed and taken by another holder meanwhile: it is theirs now.
        }
    }
}
