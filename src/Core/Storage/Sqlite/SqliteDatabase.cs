using System.Collections.Concurrent;
using System.Globalization;
using IronAuth.Core.Configuration;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace IronAuth.Core.Storage.Sqlite;

/// <summary>
/// Hands out the process's connections to the SQLite file and creates or migrates the schema. All writes
/// go through one connection, one at a time: SQLite allows one writer per file anyway, and queueing in
/// process is cheaper than contending for the file lock (measured the fastest design). Reads use a small
/// pool of long-lived connections, which WAL lets run beside the writer. Long-lived connections keep their
/// settings and prepared statements, so no operation pays for opening or preparing again.
/// </summary>
public sealed class SqliteDatabase(IOptions<IronAuthOptions> options) : IStoreLifecycle, IAsyncDisposable
{
    private readonly SemaphoreSlim writeGate = new(1, 1);
    private readonly ConcurrentBag<SqliteConnectionLease> readers = [];
    private SqliteConnectionLease? writer;
    private long writeLeases;
    private bool disposed;
    private int filesSecured;

    private readonly string connectionString = new SqliteConnectionStringBuilder
    {
        DataSource = options.Value.Sqlite.Path,
        Mode = SqliteOpenMode.ReadWriteCreate,
        // The database keeps its own long-lived connections (below); the driver's pool would only add a layer.
        Pooling = false,
    }.ToString();

    // busy_timeout: without it a locked write fails at once and Microsoft.Data.Sqlite retries with
    // 150 ms sleeps, stalling seconds when two processes share the file. synchronous=NORMAL is safe in
    // WAL mode and avoids an fsync per commit. temp_store=MEMORY: a RETURNING clause collects its rows in a
    // temporary table, which the bundled SQLite otherwise backs with a file; that made statements with
    // RETURNING (once the metering statements) 5 to 8 times slower.
    private readonly string pragmas = string.Create(
        CultureInfo.InvariantCulture,
        $"PRAGMA busy_timeout={(int)options.Value.Sqlite.BusyTimeout.TotalMilliseconds}; PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY;");

    public string Name => "sqlite";

    /// <summary>
    /// How many times the write connection has been leased: a holder that sees it one more than at its own last lease
    /// knows nobody else in this process wrote in between (SQLite's <c>data_version</c> tells it about other processes).
    /// </summary>
    internal long WriteLeases => Volatile.Read(ref writeLeases);

    /// <summary>The write connection, exclusively until the lease is disposed.</summary>
    public async Task<SqliteConnectionLease> WriteAsync(CancellationToken cancellationToken)
    {
        await writeGate.WaitAsync(cancellationToken);
        try
        {
            Interlocked.Increment(ref writeLeases);
            ObjectDisposedException.ThrowIf(disposed, this);
            writer ??= await OpenAsync(cancellationToken);
            writer.OnRelease = () => writeGate.Release();
            return writer;
        }
        catch
        {
            writeGate.Release();
            throw;
        }
    }

    /// <summary>A read connection from the pool (opened if none is free), returned on dispose.</summary>
    public async Task<SqliteConnectionLease> ReadAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (!readers.TryTake(out var reader))
        {
            reader = await OpenAsync(cancellationToken);
        }

        reader.OnRelease = () =>
        {
            if (Volatile.Read(ref disposed))
            {
                reader.Close();
            }
            else
            {
                readers.Add(reader);
            }
        };
        return reader;
    }

    public async ValueTask DisposeAsync()
    {
        await writeGate.WaitAsync();
        disposed = true;
        writer?.Close();
        while (readers.TryTake(out var reader))
        {
            reader.Close();
        }

        writeGate.Release();
    }

    private async Task<SqliteConnectionLease> OpenAsync(CancellationToken cancellationToken)
    {
        _ = GlobalSettings.Applied;
        // Before SQLite first creates the file: it holds the signing key and every digest (see SqliteFiles).
        if (Interlocked.Exchange(ref filesSecured, 1) == 0)
        {
            SqliteFiles.Secure(options.Value.Sqlite.Path);
        }

        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        var lease = new SqliteConnectionLease(connection);
        await lease.ExecuteAsync(pragmas, cancellationToken);
        return lease;
    }

    /// <summary>
    /// Process-wide SQLite settings, applied before SQLite initializes (so before the process's first connection opens;
    /// if something else opened one earlier they are silently not applied). SQLITE_CONFIG_MEMSTATUS off: SQLite would
    /// otherwise count every allocation under a global mutex, for statistics IronAuth never reads (SQLite's own
    /// documentation recommends turning it off; it was a tenth of the metering writer's time).
    /// </summary>
    private static class GlobalSettings
    {
        public static readonly bool Applied = Apply();

        private static bool Apply()
        {
            SQLitePCL.Batteries_V2.Init();
            return SQLitePCL.raw.sqlite3_config(SQLitePCL.raw.SQLITE_CONFIG_MEMSTATUS, 0) == SQLitePCL.raw.SQLITE_OK;
        }
    }

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await WriteAsync(cancellationToken);
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
            await using var connection = await ReadAsync(cancellationToken);
            return await connection.ScalarAsync("SELECT 1;", cancellationToken) is 1L;
        }
        catch (SqliteException)
        {
            return false;
        }
    }
}
