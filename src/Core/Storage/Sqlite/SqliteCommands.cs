using Microsoft.Data.Sqlite;

namespace IronAuth.Core.Storage.Sqlite;

/// <summary>
/// Small ADO.NET helpers. Every reader is read to its end: a reader disposed early keeps SQLite's WAL
/// from resetting, and the file then grows without bound.
/// </summary>
internal static class SqliteCommands
{
    public static async Task<int> ExecuteAsync(this SqliteConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Create(connection, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public static async Task<object?> ScalarAsync(this SqliteConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        var rows = await connection.QueryAsync(sql, r => r.IsDBNull(0) ? null : r.GetValue(0), cancellationToken, parameters);
        return rows.Count > 0 ? rows[0] : null;
    }

    public static async Task<List<T>> QueryAsync<T>(this SqliteConnection connection, string sql, Func<SqliteDataReader, T> map, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Create(connection, sql, parameters);
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

    public static async Task<T?> QuerySingleAsync<T>(this SqliteConnection connection, string sql, Func<SqliteDataReader, T> map, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
        where T : class
    {
        var rows = await connection.QueryAsync(sql, map, cancellationToken, parameters);
        return rows.Count > 0 ? rows[0] : null;
    }

    public static long ToUnixMs(this DateTimeOffset value) => value.ToUnixTimeMilliseconds();

    public static object ToDb(this DateTimeOffset? value) => value is { } v ? v.ToUnixTimeMilliseconds() : DBNull.Value;

    public static DateTimeOffset GetTime(this SqliteDataReader reader, int ordinal) =>
        DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(ordinal));

    public static DateTimeOffset? GetTimeOrNull(this SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(ordinal));

    public static string? GetStringOrNull(this SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static SqliteCommand Create(SqliteConnection connection, string sql, (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }
}

/// <summary>
/// A write transaction begun with BEGIN IMMEDIATE, which takes the database's write lock up front so
/// the reads inside it cannot be invalidated by another writer (in this or another process) before
/// the transaction commits. Rolled back on dispose unless committed.
/// </summary>
internal sealed class SqliteWriteTransaction : IAsyncDisposable
{
    private readonly SqliteConnection connection;
    private bool done;

    private SqliteWriteTransaction(SqliteConnection connection) => this.connection = connection;

    public static async Task<SqliteWriteTransaction> BeginAsync(SqliteConnection connection, CancellationToken cancellationToken)
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
