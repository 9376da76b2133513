using System.Security.Cryptography;
using Azure;
using Azure.Data.Tables;
using IronAuth.Core.Accounts;
using IronAuth.Core.Users;

namespace IronAuth.Core.Storage.Tables;

/// <summary>
/// One entity per address in the EmailCodes table (partition = the hex SHA-256 of the normalized address, which any
/// address can be keyed by). A put is an upsert. A check is a read and one ETag-conditional replace: setting
/// <c>Spent</c> when the digest matches, or adding one to <c>Attempts</c> when it does not. A 412 means another check
/// (or a new code) got there first: re-read and decide again, so of any number of concurrent right answers exactly
/// one finds the code unspent at its write, and every wrong try is counted once before the limit refuses the rest.
/// </summary>
public sealed class TableEmailCodeStore(TableStorage storage) : IEmailCodeStore
{
    internal const string RowKey = "code";

    private TableClient Table => storage.EmailCodes;

    public async Task PutAsync(EmailCode code, CancellationToken cancellationToken)
    {
        var partition = EmailAddresses.Key(code.NormalizedEmail);
        // The purge entry first (keyed by the hash, not the address), so no code exists unindexed.
        await storage.AddAsync(PurgeIndex.EmailCodes, code.ExpiresAt, partition, cancellationToken);
        await Table.UpsertEntityAsync(
            new TableEntity(partition, RowKey)
            {
                ["UserId"] = code.UserId,
                ["Digest"] = TableEntities.Hex(code.Digest),
                ["CreatedAt"] = code.CreatedAt,
                ["ExpiresAt"] = code.ExpiresAt,
                ["Attempts"] = 0,
                ["Spent"] = false,
            },
            TableUpdateMode.Replace,
            cancellationToken);
    }

    public async Task<(CodeCheck Check, string? UserId)> CheckAsync(
        string normalizedEmail, byte[] digest, int maxAttempts, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var partition = EmailAddresses.Key(normalizedEmail);
        var presented = TableEntities.Hex(digest);
        for (var attempt = 0; ; attempt++)
        {
            if (await Table.FindAsync(partition, RowKey, cancellationToken) is not { } code
                || code.GetBoolean("Spent") != false || code.RequiredTime("ExpiresAt") <= now || code.Int("Attempts") >= maxAttempts)
            {
                return (CodeCheck.Unusable, null);
            }

            var right = CryptographicOperations.FixedTimeEquals(
                System.Text.Encoding.ASCII.GetBytes(code.RequiredString("Digest")), System.Text.Encoding.ASCII.GetBytes(presented));
            var etag = code.ETag;
            if (right)
            {
                code["Spent"] = true;
                code["SpentAt"] = now;
            }
            else
            {
                code["Attempts"] = code.Int("Attempts") + 1;
            }

            try
            {
                await Table.UpdateEntityAsync(code, etag, TableUpdateMode.Replace, cancellationToken);
                return right ? (CodeCheck.Redeemed, code.RequiredString("UserId")) : (CodeCheck.Wrong, null);
            }
            catch (RequestFailedException e) when (e.Status is TableEntities.PreconditionFailed or TableEntities.NotFound && storage.MayRetry(attempt))
            {
                await storage.BackOffAsync("Check email code", attempt, cancellationToken);
            }
        }
    }
}
