using System.Globalization;
using System.Text.Json;
using IronAuth.Core.Audit;
using Microsoft.Data.Sqlite;

namespace IronAuth.Core.Storage.Sqlite;

/// <summary>The audit log; the schema's triggers refuse UPDATE and DELETE, so it can only grow.</summary>
public sealed class SqliteAuditStore(SqliteDatabase database) : IAuditStore
{
    public async Task AppendAsync(AuditEntry entry, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        await connection.ExecuteAsync(
            """
            INSERT INTO audit_log (id, at, actor_id, actor_name, action, target_type, target_id, client_ip, details)
            VALUES (@id, @at, @actor_id, @actor_name, @action, @target_type, @target_id, @client_ip, @details);
            """,
            cancellationToken,
            ("@id", entry.Id),
            ("@at", entry.At.ToUnixMs()),
            ("@actor_id", entry.ActorId),
            ("@actor_name", entry.ActorName),
            ("@action", entry.Action),
            ("@target_type", entry.TargetType),
            ("@target_id", entry.TargetId),
            ("@client_ip", entry.ClientIp),
            ("@details", JsonSerializer.Serialize(entry.Details)));
    }

    public async Task<Page<AuditEntry>> ListAsync(string? userId, string? position, int limit, CancellationToken cancellationToken)
    {
        long? before = long.TryParse(position, NumberStyles.None, CultureInfo.InvariantCulture, out var seq) ? seq : null;
        await using var connection = await database.ReadAsync(cancellationToken);
        var rows = await connection.QueryAsync(
            """
            SELECT seq, id, at, actor_id, actor_name, action, target_type, target_id, client_ip, details FROM audit_log
            WHERE (@user IS NULL OR actor_id = @user OR target_id = @user) AND (@before IS NULL OR seq < @before)
            ORDER BY seq DESC LIMIT @limit;
            """,
            r => (Seq: r.GetInt64(0), Entry: Read(r)),
            cancellationToken,
            ("@user", userId),
            ("@before", before),
            ("@limit", limit + 1));
        var more = rows.Count > limit;
        if (more)
        {
            rows.RemoveAt(rows.Count - 1);
        }

        return new Page<AuditEntry>(
            rows.ConvertAll(r => r.Entry),
            more ? rows[^1].Seq.ToString(CultureInfo.InvariantCulture) : null);
    }

    private static AuditEntry Read(SqliteDataReader r) => new()
    {
        Id = r.GetString(1),
        At = r.GetTime(2),
        ActorId = r.GetStringOrNull(3),
        ActorName = r.GetString(4),
        Action = r.GetString(5),
        TargetType = r.GetStringOrNull(6),
        TargetId = r.GetStringOrNull(7),
        ClientIp = r.GetStringOrNull(8),
        Details = JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetString(9)) ?? [],
    };
}
