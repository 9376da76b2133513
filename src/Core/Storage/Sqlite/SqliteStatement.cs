using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace IronAuth.Core.Storage.Sqlite;

/// <summary>
/// One statement prepared once on a long-lived connection and run through SQLite's own API (SQLitePCLRaw, which
/// Microsoft.Data.Sqlite is built on), for the metering hot path: there, Microsoft.Data.Sqlite's per-execution
/// work (parameters bound by name, a data reader per call, async wrappers) cost about as much as SQLite itself.
/// Parameters keep their names in the SQL; their positions are looked up once.
/// </summary>
internal sealed class SqliteStatement : IDisposable
{
    private readonly sqlite3 db;
    private readonly sqlite3_stmt statement;
    private readonly Dictionary<string, int> positions = new(StringComparer.Ordinal);
    private readonly int operation;

    public SqliteStatement(SqliteConnection connection, string sql)
    {
        db = connection.Handle!;
        operation = StoreMetrics.SqliteOperation(sql);
        SqliteException.ThrowExceptionForRC(raw.sqlite3_prepare_v2(db, sql, out statement), db);
        for (var i = 1; i <= raw.sqlite3_bind_parameter_count(statement); i++)
        {
            positions[raw.sqlite3_bind_parameter_name(statement, i).utf8_to_string()] = i;
        }
    }

    public SqliteStatement Bind(string name, string? value) =>
        Check(value is null ? raw.sqlite3_bind_null(statement, positions[name]) : raw.sqlite3_bind_text(statement, positions[name], value));

    public SqliteStatement Bind(string name, long? value) =>
        Check(value is { } v ? raw.sqlite3_bind_int64(statement, positions[name], v) : raw.sqlite3_bind_null(statement, positions[name]));

    public SqliteStatement Bind(string name, long value) => Check(raw.sqlite3_bind_int64(statement, positions[name], value));

    public SqliteStatement Bind(string name, double value) => Check(raw.sqlite3_bind_double(statement, positions[name], value));

    /// <summary>Runs a statement that returns no rows.</summary>
    public void Execute() => Single(_ => 0);

    /// <summary>
    /// Runs the statement to its end and returns its first row mapped by <paramref name="map"/>, or default when
    /// it returned none. The statement is reset either way, ready to be bound again.
    /// </summary>
    public T? Single<T>(Func<sqlite3_stmt, T> map) => Run(map, null);

    /// <summary>Runs the statement to its end and returns every row mapped by <paramref name="map"/>; reset as <see cref="Single"/>.</summary>
    public List<T> All<T>(Func<sqlite3_stmt, T> map)
    {
        var rows = new List<T>();
        Run(map, rows);
        return rows;
    }

    // Steps to the end: the first row mapped and returned, and with rows given, every row mapped into it.
    private T? Run<T>(Func<sqlite3_stmt, T> map, List<T>? rows)
    {
        using var timing = StoreMetrics.StartSqlite(operation);
        try
        {
            var rc = raw.sqlite3_step(statement);
            var first = rc == raw.SQLITE_ROW && rows is null ? map(statement) : default;
            while (rc == raw.SQLITE_ROW)
            {
                rows?.Add(map(statement));
                rc = raw.sqlite3_step(statement);
            }

            SqliteException.ThrowExceptionForRC(rc == raw.SQLITE_DONE ? raw.SQLITE_OK : rc, db);
            return first;
        }
        finally
        {
            raw.sqlite3_reset(statement);
        }
    }

    public void Dispose() => statement.Dispose();

    private SqliteStatement Check(int rc)
    {
        SqliteException.ThrowExceptionForRC(rc, db);
        return this;
    }
}
