using System.Security.Cryptography;
using System.Text;
using Azure.Data.Tables;
using IronAuth.Core.Federation;

namespace IronAuth.Core.Storage.Tables;

/// <summary>
/// Links in the Identities table, one entity per identity, keyed by the hex SHA-256 of provider and subject (a
/// subject may hold any character); the insert's 409 decides a race for an identity.
/// </summary>
public sealed class TableFederatedIdentityStore(TableStorage storage) : IFederatedIdentityStore
{
    private const string RowKey = "link";

    public async Task<string?> FindUserIdAsync(string provider, string subject, CancellationToken cancellationToken) =>
        await storage.Identities.FindAsync(Key(provider, subject), RowKey, cancellationToken) is { } link ? link.RequiredString("UserId") : null;

    public Task<bool> LinkAsync(string provider, string subject, string userId, DateTimeOffset now, CancellationToken cancellationToken) =>
        storage.Identities.InsertAsync(
            new TableEntity(Key(provider, subject), RowKey) { ["UserId"] = userId, ["Provider"] = provider, ["CreatedAt"] = now }, cancellationToken);

    private static string Key(string provider, string subject) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(provider.ToLowerInvariant() + "\n" + subject)));
}
