using System.Globalization;
using IronAuth.Core.Configuration;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace IronAuth.Core.Storage.Sqlite;

/// <summary>
/// Opens connections to the SQLite file with the settings every connection needs (they are per
/// connection in SQLite), and creates or migrates the schema.
/// </summary>
public sealed class SqliteDatabase(IOptions<IronAuthOptions> options) : IStoreLifecycle
{
    private readonly string connectionString = new SqliteConnectionStringBuilder
    {
        DataSource = options.Value.Sqlite.Path,
        Mode = SqliteOpenMode.ReadWriteCreate,
        Pooling = true,
    }.ToString();

    // busy_timeout: without it a locked write fails at once and Microsoft.Data.Sqlite retries with
    // 150 ms sleeps, stalling seconds when two processes share the file. synchronous=NORMAL is safe in
    // WAL mode and avoids an fsync per commit.
    private readonly string pragmas = string.Create(
        CultureInfo.InvariantCulture,
        $"PRAGMA busy_timeout={(int)options.Value.Sqlite.BusyTimeout.TotalMilliseconds}; PRAGMA synchronous=NORMAL;");

    public string Name => "sqlite";

    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(pragmas, cancellationToken);
        return connection;
    }

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await connection.ExecuteAsync("PRAGMA journal_mode=WAL;", cancellationToken);
        // BEGIN IMMEDIATE takes the write lock first, so concurrent first starts migrate one after the other.
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        var version = Convert.ToInt32(await connection.ScalarAsync("PRAGMA user_version;", cancellationToken), CultureInfo.InvariantCulture);
        for (var next = version; next < SqliteSchema.Migrations.Count; next++)
        {
            await connection.ExecuteAsync(SqliteSchema.Migrations[next], cancellationToken);
        }

        if (version < SqliteSchema.Migrations.Count)
        {
            await connection.ExecuteAsync($"PRAGMA user_version={SqliteSchema.Migrations.Count};", cancellationToken);
        }

        await transaction.CommitAsync();
    }

    public async Task<bool> IsHealthyAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await OpenAsync(cancellationToken);
            return await connection.ScalarAsync("SELECT 1;", cancellationToken) is 1L;
        }
        catch (SqliteException)
        {
            return false;
        }
    }
}
