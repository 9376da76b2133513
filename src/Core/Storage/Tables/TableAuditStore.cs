using System.Text.Json;
using Azure.Data.Tables;
using IronAuth.Core.Audit;

namespace IronAuth.Core.Storage.Tables;

/// <summary>
/// The audit log in the Audit table, insert-only: this class never updates or deletes an entity. Every
/// entry is written to the "log" partition and, as a copy, to the partition of each user it involves (its
/// actor and its target), so both the whole log and one user's entries are a single-partition range read.
/// Row keys count time backwards, so the ascending order Table Storage returns is newest first.
/// </summary>
public sealed class TableAuditStore(TableStorage storage) : IAuditStore
{
    private const string LogPartition = "log";
    private const string UserPrefix = "user:";

    // The time part of the row keys this process wrote last. Entries stamped with the same instant (a
    // burst within one clock tick, or a test's stopped clock) still get distinct, insertion-ordered keys.
    private long lastKeyTicks;

    private TableClient Table => storage.Audit;

    public async Task AppendAsync(AuditEntry entry, CancellationToken cancellationToken)
    {
        var rowKey = $"{TableEntities.NewestFirst(NextKeyTicks(entry.At))}-{entry.Id}";
        var partitions = new[] { entry.ActorId, entry.TargetId }
            .Where(TableEntities.IsKeySafe)
            .Distinct(StringComparer.Ordinal)
            .Select(userId => UserPrefix + userId)
            .Prepend(LogPartition);
        // A 409 means an earlier attempt of this very insert (retried by the SDK after a timeout) landed:
        // the row key holds the entry's unique id, so nothing is ever overwritten either way.
        await Task.WhenAll(partitions.Select(partition => Table.InsertAsync(ToEntity(partition, rowKey, entry), cancellationToken)));
    }

    public async Task<Page<AuditEntry>> ListAsync(string? userId, string? position, int limit, CancellationToken cancellationToken)
    {
        if (userId is not null && !TableEntities.IsKeySafe(userId))
        {
            return new Page<AuditEntry>([], null);
        }

        var partition = userId is null ? LogPartition : UserPrefix + userId;
        var filter = position is null
            ? TableClient.CreateQueryFilter($"PartitionKey eq {partition}")
            : TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey gt {position}");
        var rows = new List<TableEntity>(limit + 1);
        await foreach (var entity in Table.QueryAsync<TableEntity>(filter, Math.Min(limit + 1, 1000), cancellationToken: cancellationToken))
        {
            rows.Add(entity);
            if (rows.Count > limit)
            {
                break;
            }
        }

        var more = rows.Count > limit;
        if (more)
        {
            rows.RemoveAt(rows.Count - 1);
        }

        return new Page<AuditEntry>(rows.ConvertAll(FromEntity), more ? rows[^1].RowKey : null);
    }

    private long NextKeyTicks(DateTimeOffset at)
    {
        while (true)
        {
            var last = Interlocked.Read(ref lastKeyTicks);
            var next = Math.Max(at.UtcTicks, last + 1);
            if (Interlocked.CompareExchange(ref lastKeyTicks, next, last) == last)
            {
                return next;
            }
        }
    }

    private static TableEntity ToEntity(string partition, string rowKey, AuditEntry entry)
    {
        var entity = new TableEntity(partition, rowKey)
        {
            ["Id"] = entry.Id,
            ["At"] = entry.At,
            ["ActorName"] = entry.ActorName,
            ["Action"] = entry.Action,
            ["Details"] = JsonSerializer.Serialize(entry.Details),
        };
        entity.SetOrRemove("ActorId", entry.ActorId);
        entity.SetOrRemove("TargetType", entry.TargetType);
        entity.SetOrRemove("TargetId", entry.TargetId);
        entity.SetOrRemove("ClientIp", entry.ClientIp);
        return entity;
    }

    private static AuditEntry FromEntity(TableEntity entity) => new()
    {
        Id = entity.RequiredString("Id"),
        At = entity.RequiredTime("At"),
        ActorId = entity.GetString("ActorId"),
        ActorName = entity.RequiredString("ActorName"),
        Action = entity.RequiredString("Action"),
        TargetType = entity.GetString("TargetType"),
        TargetId = entity.GetString("TargetId"),
        ClientIp = entity.GetString("ClientIp"),
        Details = JsonSerializer.Deserialize<Dictionary<string, string>>(entity.RequiredString("Details")) ?? [],
    };
}
