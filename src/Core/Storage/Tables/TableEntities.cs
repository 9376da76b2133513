using System.Globalization;
using Azure;
using Azure.Data.Tables;

namespace IronAuth.Core.Storage.Tables;

/// <summary>Keys, status codes and typed access to <see cref="TableEntity"/> properties.</summary>
internal static class TableEntities
{
    public const int NotFound = 404;
    public const int Conflict = 409;
    public const int PreconditionFailed = 412;

    /// <summary>
    /// False for values Table Storage forbids in a key (/ \ # ? and control characters) or that are too long.
    /// Lookups with such a value find nothing instead of sending a malformed request.
    /// </summary>
    public static bool IsKeySafe(string? value) =>
        value is { Length: > 0 and <= 256 } && !value.Any(c => c is '/' or '\\' or '#' or '?' || char.IsControl(c));

    /// <summary>A digest as it appears in a key: lower-case hex.</summary>
    public static string Hex(byte[] digest) => Convert.ToHexStringLower(digest);

    /// <summary>
    /// A row key part that sorts newest first: Table Storage returns rows in ascending key order, so the
    /// key holds the ticks counted back from <see cref="DateTimeOffset.MaxValue"/>, zero-padded to a fixed width.
    /// </summary>
    public static string NewestFirst(long utcTicks) =>
        (DateTimeOffset.MaxValue.UtcTicks - utcTicks).ToString("D19", CultureInfo.InvariantCulture);

    public static async Task<TableEntity?> FindAsync(this TableClient table, string partitionKey, string rowKey, CancellationToken cancellationToken)
    {
        var response = await table.GetEntityIfExistsAsync<TableEntity>(partitionKey, rowKey, cancellationToken: cancellationToken);
        return response.HasValue ? response.Value : null;
    }

    /// <summary>Inserts the entity; false (nothing written) when its key exists, so a taken key is a 409, never a read-then-write.</summary>
    public static async Task<bool> InsertAsync(this TableClient table, TableEntity entity, CancellationToken cancellationToken)
    {
        try
        {
            await table.AddEntityAsync(entity, cancellationToken);
            return true;
        }
        catch (RequestFailedException e) when (e.Status == Conflict)
        {
            return false;
        }
    }

    public static string RequiredString(this TableEntity entity, string key) =>
        entity.GetString(key) ?? throw Missing(entity, key);

    public static DateTimeOffset RequiredTime(this TableEntity entity, string key) =>
        entity.GetDateTimeOffset(key) ?? throw Missing(entity, key);

    public static int Int(this TableEntity entity, string key) => entity.GetInt32(key) ?? 0;

    /// <summary>Sets a property, or removes it for null: Table Storage has no null values, a property is simply absent.</summary>
    public static void SetOrRemove(this TableEntity entity, string key, object? value)
    {
        if (value is null)
        {
            entity.Remove(key);
        }
        else
        {
            entity[key] = value;
        }
    }

    private static InvalidOperationException Missing(TableEntity entity, string key) =>
        new($"Entity {entity.PartitionKey}/{entity.RowKey} has no '{key}' property.");
}
