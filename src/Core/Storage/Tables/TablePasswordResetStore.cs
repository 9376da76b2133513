using Azure;
using Azure.Data.Tables;
using IronAuth.Core.Passwords;

namespace IronAuth.Core.Storage.Tables;

/// <summary>
/// Reset tickets live in their user's partition of the Resets table, so issuing one (spend every unspent
/// ticket of the user, add the new one) is one entity-group transaction under the ETags read. The
/// transaction also writes the partition's "latest" entity under its ETag (or inserts it, 409 when someone
/// else did): ETags cannot guard the absence of a ticket, so without it two concurrent issues that each
/// found no unspent ticket would both commit and leave two usable. A reset token carries no user id, so a
/// second entity per ticket, keyed by the digest alone, leads to the user.
/// </summary>
public sealed class TablePasswordResetStore(TableStorage storage) : IPasswordResetStore
{
    internal const string UserPrefix = "user:";
    internal const string DigestPrefix = "digest:";
    internal const string DigestKey = "ticket";
    private const string LatestKey = "latest";

    private TableClient Table => storage.Resets;

    public async Task AddAsync(PasswordResetTicket ticket, CancellationToken cancellationToken)
    {
        if (!TableEntities.IsKeySafe(ticket.UserId))
        {
            throw new ArgumentException("The user id must be usable as a table key.", nameof(ticket));
        }

        var digest = TableEntities.Hex(ticket.Digest);
        // The index entries first: if the transaction below never lands, they point at no ticket and find nothing.
        await Task.WhenAll(
            Table.InsertAsync(new TableEntity(DigestPrefix + digest, DigestKey) { ["UserId"] = ticket.UserId }, cancellationToken),
            storage.AddAsync(PurgeIndex.Resets, ticket.ExpiresAt, $"{ticket.UserId}:{digest}", cancellationToken));

        var partition = UserPrefix + ticket.UserId;
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partition} and Spent eq false");
        for (var attempt = 0; ; attempt++)
        {
            // The latest entity is read first: any issue that commits after this read changes its ETag.
            var latest = await Table.FindAsync(partition, LatestKey, cancellationToken);
            var actions = new List<TableTransactionAction>();
            await foreach (var unspent in Table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
            {
                if (unspent.RowKey == digest)
                {
                    // An earlier attempt landed after all (the SDK retried a batch that had committed).
                    return;
                }

                if (actions.Count == TableBatch.MaxActions - 2)
                {
                    // Every issue spends the earlier tickets, so a user has at most one unspent ticket.
                    throw new InvalidOperationException($"User {ticket.UserId} has more unspent reset tickets than one transaction can spend.");
                }

                var etag = unspent.ETag;
                unspent["Spent"] = true;
                unspent["SpentAt"] = ticket.CreatedAt;
                actions.Add(new TableTransactionAction(TableTransactionActionType.UpdateReplace, unspent, etag));
            }

            actions.Add(new TableTransactionAction(TableTransactionActionType.Add, new TableEntity(partition, digest)
            {
                ["Spent"] = false,
                ["CreatedAt"] = ticket.CreatedAt,
                ["ExpiresAt"] = ticket.ExpiresAt,
            }));
            var marker = new TableEntity(partition, LatestKey) { ["Digest"] = digest };
            actions.Add(latest is null
                ? new TableTransactionAction(TableTransactionActionType.Add, marker)
                : new TableTransactionAction(TableTransactionActionType.UpdateReplace, marker, latest.ETag));
            try
            {
                await Table.SubmitEntityGroupAsync(actions, cancellationToken);
                return;
            }
            catch (TableTransactionFailedException e)
                when (e.Status is TableEntities.PreconditionFailed or TableEntities.Conflict or TableEntities.NotFound && storage.MayRetry(attempt))
            {
                // Another ticket was issued or spent meanwhile: list the unspent ones again.
                await storage.BackOffAsync("Issue password reset", attempt, cancellationToken);
            }
        }
    }

    public async Task<PasswordResetTicket?> FindUsableAsync(byte[] digest, DateTimeOffset now, CancellationToken cancellationToken) =>
        await FindTicketAsync(TableEntities.Hex(digest), cancellationToken) is { } entity && IsUsable(entity, now)
            ? new PasswordResetTicket(digest, entity.PartitionKey[UserPrefix.Length..], entity.RequiredTime("CreatedAt"), entity.RequiredTime("ExpiresAt"))
            : null;

    public async Task<bool> SpendAsync(byte[] digest, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var hex = TableEntities.Hex(digest);
        for (var attempt = 0; ; attempt++)
        {
            if (await FindTicketAsync(hex, cancellationToken) is not { } entity || !IsUsable(entity, now))
            {
                return false;
            }

            var etag = entity.ETag;
            entity["Spent"] = true;
            entity["SpentAt"] = now;
            try
            {
                await Table.UpdateEntityAsync(entity, etag, TableUpdateMode.Replace, cancellationToken);
                return true;
            }
            catch (RequestFailedException e) when (e.Status == TableEntities.PreconditionFailed && storage.MayRetry(attempt))
            {
                await storage.BackOffAsync("Spend password reset", attempt, cancellationToken);
            }
        }
    }

    public async Task<int> SpendAllAsync(string userId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (!TableEntities.IsKeySafe(userId))
        {
            return 0;
        }

        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {UserPrefix + userId} and Spent eq false");
        var spent = 0;
        await foreach (var unspent in Table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
        {
            // (The partition's "latest" marker has no Spent property, so the filter leaves it out.)
            var etag = unspent.ETag;
            unspent["Spent"] = true;
            unspent["SpentAt"] = now;
            try
            {
                await Table.UpdateEntityAsync(unspent, etag, TableUpdateMode.Replace, cancellationToken);
                spent++;
            }
            catch (RequestFailedException e) when (e.Status == TableEntities.PreconditionFailed)
            {
                // Spent by someone else since it was read: a ticket only ever changes by being spent.
            }
        }

        return spent;
    }

    /// <summary>The user id and hex digest of a purge index key written by <see cref="AddAsync"/>.</summary>
    internal static (string UserId, string Digest) ParseIndexKey(string key)
    {
        var separator = key.LastIndexOf(':');
        return (key[..separator], key[(separator + 1)..]);
    }

    private static bool IsUsable(TableEntity ticket, DateTimeOffset now) =>
        ticket.GetBoolean("Spent") == false && ticket.RequiredTime("ExpiresAt") > now;

    private async Task<TableEntity?> FindTicketAsync(string digest, CancellationToken cancellationToken) =>
        await Table.FindAsync(DigestPrefix + digest, DigestKey, cancellationToken) is { } index
            ? await Table.FindAsync(UserPrefix + index.RequiredString("UserId"), digest, cancellationToken)
            : null;
}
