using Microsoft.Data.Sqlite;

namespace IronAuth.Core.Storage.Sqlite;

/// <summary>
/// One long-lived connection, leased to one caller at a time by <see cref="SqliteDatabase"/>; disposing
/// the lease hands it back. Commands are kept per SQL text, so each statement is prepared once per
/// connection. Every reader is read to its end: a reader disposed early keeps SQLite's WAL from resetting,
/// and the file then grows without bound.
/// </summary>
public sealed class SqliteConnectionLease : IAsyncDisposable
{
    private readonly SqliteConnection connection;
    private readonly Dictionary<string, SqliteCommand> commands = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SqliteStatement> statements = new(StringComparer.Ordinal);

    internal SqliteConnectionLease(SqliteConnection connection) => this.connection = connection;

    internal Action? OnRelease { get; set; }

    public ValueTask DisposeAsync()
    {
        var release = OnRelease;
        OnRelease = null;
        release?.Invoke();
        return ValueTask.CompletedTask;
    }

    internal void Close()
    {
        foreach (var command in commands.Values)
        {
            command.Dispose();
        }

        commands.Clear();
        foreach (var statement in statements.Values)
        {
            statement.Dispose();
        }

        statements.Clear();
        connection.Dispose();
    }

    public async Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        var command = Prepare(sql, parameters);
        using var timing = StoreMetrics.StartSqlite(StoreMetrics.SqliteOperation(sql));
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<object?> ScalarAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        var rows = await QueryAsync(sql, r => r.IsDBNull(0) ? null : r.GetValue(0), cancellationToken, parameters);
        return rows.Count > 0 ? rows[0] : null;
    }

    public async Task<List<T>> QueryAsync<T>(string sql, Func<SqliteDataReader, T> map, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        var command = Prepare(sql, parameters);
        using var timing = StoreMetrics.StartSqlite(StoreMetrics.SqliteOperation(sql));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<T>();
        do
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                rows.Add(map(reader));
            }
        }
        while (await reader.NextResultAsync(cancellationToken));
        return rows;
    }

    public async Task<T?> QuerySingleAsync<T>(string sql, Func<SqliteDataReader, T> map, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
        where T : class
    {
        var rows = await QueryAsync(sql, map, cancellationToken, parameters);
        return rows.Count > 0 ? rows[0] : null;
    }

    /// <summary>A statement for the hot path (see <see cref="SqliteStatement"/>), prepared once per connection.</summary>
    internal SqliteStatement Statement(string sql)
    {
        StoreMetrics.SqliteRoundTrip();
        if (!statements.TryGetValue(sql, out var statement))
        {
            statement = new SqliteStatement(connection, sql);
            statements[sql] = statement;
        }

        return statement;
    }

    private SqliteCommand Prepare(string sql, (string Name, object? Value)[] parameters)
    {
        StoreMetrics.SqliteRoundTrip();
        if (!commands.TryGetValue(sql, out var command))
        {
            command = connection.CreateCommand();
            command.CommandText = sql;
            commands[sql] = command;
        }

        command.Parameters.Clear();
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }
}

internal static class SqliteValues
{
    public static long ToUnixMs(this DateTimeOffset value) => value.ToUnixTimeMilliseconds();

    public static object ToDb(this DateTimeOffset? value) => value is { } v ? v.ToUnixTimeMilliseconds() : DBNull.Value;

    public static DateTimeOffset GetTime(this SqliteDataReader reader, int ordinal) =>
        DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(ordinal));

    public static DateTimeOffset? GetTimeOrNull(this SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(ordinal));

    public static string? GetStringOrNull(this SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}

/// <summary>
/// A write transaction begun with BEGIN IMMEDIATE, which takes the database's write lock up front so
/// the reads inside it cannot be invalidated by another writer (in this or another process) before
/// the transaction commits. Rolled back on dispose unless committed.
/// </summary>
internal sealed class SqliteWriteTransaction : IAsyncDisposable
{
    private readonly SqliteConnectionLease connection;
    private bool done;

    private SqliteWriteTransaction(SqliteConnectionLease connection) => this.connection = connection;

    public static async Task<SqliteWriteTransaction> BeginAsync(SqliteConnectionLease connection, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync("BEGIN IMMEDIATE;", cancellationToken);
        return new SqliteWriteTransaction(connection);
    }

    public async Task CommitAsync()
    {
        await connection.ExecuteAsync("COMMIT;", CancellationToken.None);
        done = true;
    }

    public async ValueTask DisposeAsync()
    {
        if (!done)
        {
            done = true;
            await connection.ExecuteAsync("ROLLBACK;", CancellationToken.None);
        }
    }
}
