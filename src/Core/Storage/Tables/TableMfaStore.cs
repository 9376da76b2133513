using Azure;
using Azure.Data.Tables;
using IronAuth.Core.Mfa;

namespace IronAuth.Core.Storage.Tables;

/// <summary>
/// Two-factor state in the Mfa table. A user's enrolment (<c>totp</c>) and recovery codes (<c>rc:{hex digest}</c>)
/// share the partition <c>user:{userId}</c>, so confirming (enrolment confirmed under its ETag, old codes deleted, new
/// ones inserted) and removing are single entity-group transactions. Accepting a time step is a read and a replace
/// under the enrolment's ETag (412: someone else accepted a step meanwhile; re-read, and a step no longer later than
/// the last is refused). A recovery code or a challenge (<c>challenge:{hex digest}</c>) only ever changes by being
/// spent, so a 412 on its conditional replace means another caller spent it.
/// </summary>
public sealed class TableMfaStore(TableStorage storage) : IMfaStore
{
    private const string TotpKey = "totp";
    private const string CodePrefix = "rc:";
    internal const string ChallengeKey = "challenge";

    private TableClient Table => storage.Mfa;

    public async Task<TotpEnrolment?> FindTotpAsync(string userId, CancellationToken cancellationToken) =>
        TableEntities.IsKeySafe(userId) && await Table.FindAsync(Partition(userId), TotpKey, cancellationToken) is { } entity
            ? FromEntity(userId, entity)
            : null;

    public async Task<bool> BeginTotpAsync(TotpEnrolment enrolment, CancellationToken cancellationToken)
    {
        var entity = new TableEntity(Partition(enrolment.UserId), TotpKey)
        {
            ["Secret"] = enrolment.ProtectedSecret,
            ["CreatedAt"] = enrolment.CreatedAt,
            ["LastStep"] = -1L,
        };
        for (var attempt = 0; ; attempt++)
        {
            var current = await Table.FindAsync(entity.PartitionKey, TotpKey, cancellationToken);
            if (current?.GetDateTimeOffset("ConfirmedAt") is not null)
            {
                return false;
            }

            try
            {
                if (current is null)
                {
                    await Table.AddEntityAsync(entity, cancellationToken);
                }
                else
                {
                    await Table.UpdateEntityAsync(entity, current.ETag, TableUpdateMode.Replace, cancellationToken);
                }

                return true;
            }
            catch (RequestFailedException e) when (IsStale(e) && storage.MayRetry(attempt))
            {
                await storage.BackOffAsync("Begin TOTP enrolment", attempt, cancellationToken);
            }
        }
    }

    public async Task<bool> ConfirmTotpAsync(
        string userId, string protectedSecret, long step, IReadOnlyList<byte[]> recoveryDigests, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var partition = Partition(userId);
        if (await Table.FindAsync(partition, TotpKey, cancellationToken) is not { } totp
            || totp.GetDateTimeOffset("ConfirmedAt") is not null || totp.GetString("Secret") != protectedSecret)
        {
            return false;
        }

        var etag = totp.ETag;
        totp["ConfirmedAt"] = now;
        totp["LastStep"] = step;
        List<TableTransactionAction> actions = [new(TableTransactionActionType.UpdateReplace, totp, etag)];
        await foreach (var old in Table.QueryAsync<TableEntity>(CodesFilter(partition), select: ["PartitionKey", "RowKey"], cancellationToken: cancellationToken))
        {
            actions.Add(new(TableTransactionActionType.Delete, old, ETag.All));
        }

        actions.AddRange(recoveryDigests.Select(d =>
            new TableTransactionAction(TableTransactionActionType.Add, new TableEntity(partition, CodePrefix + TableEntities.Hex(d)) { ["Spent"] = false })));
        try
        {
            await Table.SubmitEntityGroupAsync(actions, cancellationToken);
            return true;
        }
        catch (TableTransactionFailedException e) when (IsStale(e))
        {
            return false;
        }
    }

    public async Task<bool> AcceptStepAsync(string userId, long step, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            if (await Table.FindAsync(Partition(userId), TotpKey, cancellationToken) is not { } totp
                || totp.GetDateTimeOffset("ConfirmedAt") is null || (totp.GetInt64("LastStep") ?? -1) >= step)
            {
                return false;
            }

            var etag = totp.ETag;
            totp["LastStep"] = step;
            try
            {
                await Table.UpdateEntityAsync(totp, etag, TableUpdateMode.Replace, cancellationToken);
                return true;
            }
            catch (RequestFailedException e) when (IsStale(e) && storage.MayRetry(attempt))
            {
                await storage.BackOffAsync("Accept TOTP step", attempt, cancellationToken);
            }
        }
    }

    public async Task<bool> SpendRecoveryCodeAsync(string userId, byte[] digest, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (!TableEntities.IsKeySafe(userId)
            || await Table.FindAsync(Partition(userId), CodePrefix + TableEntities.Hex(digest), cancellationToken) is not { } code
            || code.GetBoolean("Spent") != false)
        {
            return false;
        }

        var etag = code.ETag;
        code["Spent"] = true;
        code["SpentAt"] = now;
        try
        {
            await Table.UpdateEntityAsync(code, etag, TableUpdateMode.Replace, cancellationToken);
            return true;
        }
        catch (RequestFailedException e) when (IsStale(e))
        {
            return false;
        }
    }

    public async Task<bool> RemoveTotpAsync(string userId, CancellationToken cancellationToken)
    {
        if (!TableEntities.IsKeySafe(userId))
        {
            return false;
        }

        var partition = Partition(userId);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partition}");
        var actions = new List<TableTransactionAction>();
        var hadTotp = false;
        await foreach (var entity in Table.QueryAsync<TableEntity>(filter, select: ["PartitionKey", "RowKey"], cancellationToken: cancellationToken))
        {
            hadTotp |= entity.RowKey == TotpKey;
            actions.Add(new(TableTransactionActionType.Delete, entity, ETag.All));
        }

        foreach (var batch in actions.Chunk(TableBatch.MaxActions))
        {
            try
            {
                await Table.SubmitEntityGroupAsync(batch, cancellationToken);
            }
            catch (TableTransactionFailedException e) when (e.Status == TableEntities.NotFound)
            {
                // Removed concurrently by another caller: the outcome is the same.
            }
        }

        return hadTotp;
    }

    public async Task AddChallengeAsync(MfaChallenge challenge, CancellationToken cancellationToken)
    {
        // The purge entry first, so no challenge exists unindexed.
        await storage.AddAsync(PurgeIndex.MfaChallenges, challenge.ExpiresAt, TableEntities.Hex(challenge.Digest), cancellationToken);
        await Table.AddEntityAsync(
            new TableEntity(ChallengePartition(challenge.Digest), ChallengeKey)
            {
                ["UserId"] = challenge.UserId,
                ["ExpiresAt"] = challenge.ExpiresAt,
                ["Spent"] = false,
            },
            cancellationToken);
    }

    public async Task<string?> SpendChallengeAsync(byte[] digest, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (await Table.FindAsync(ChallengePartition(digest), ChallengeKey, cancellationToken) is not { } challenge
            || challenge.GetBoolean("Spent") != false || challenge.RequiredTime("ExpiresAt") <= now)
        {
            return null;
        }

        var etag = challenge.ETag;
        challenge["Spent"] = true;
        try
        {
            await Table.UpdateEntityAsync(challenge, etag, TableUpdateMode.Replace, cancellationToken);
            return challenge.RequiredString("UserId");
        }
        catch (RequestFailedException e) when (IsStale(e))
        {
            return null;
        }
    }

    private static string Partition(string userId) => "user:" + userId;

    private static string ChallengePartition(byte[] digest) => ChallengePartition(TableEntities.Hex(digest));

    internal static string ChallengePartition(string hexDigest) => "challenge:" + hexDigest;

    private static string CodesFilter(string partition) =>
        TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey ge {CodePrefix} and RowKey lt {"rc;"}");

    private static bool IsStale(RequestFailedException e) =>
        e.Status is TableEntities.PreconditionFailed or TableEntities.Conflict or TableEntities.NotFound;

    private static TotpEnrolment FromEntity(string userId, TableEntity entity) => new(
        userId,
        entity.RequiredString("Secret"),
        entity.RequiredTime("CreatedAt"),
        entity.GetDateTimeOffset("ConfirmedAt"),
        entity.GetInt64("LastStep") ?? -1);
}
