using System.Globalization;
using IronAuth.Core.Limits;
using SQLitePCL;

namespace IronAuth.Core.Storage.Sqlite;

public sealed class SqliteUsageStore(SqliteDatabase database) : IUsageStore
{
    // Read, decide (QuotaRules.TryAdd, as the Table store does) and write inside the caller's write transaction, which
    // holds the database's write lock throughout: concurrent callers from any process never overspend a quota.
    private const string Day = "SELECT requests, tokens, cost_micros FROM usage_days WHERE token_id = @token_id AND day = @day;";

    private const string Write = """
        INSERT INTO usage_days (token_id, day, requests, tokens, cost_micros) VALUES (@token_id, @day, @requests, @tokens, @cost)
        ON CONFLICT (token_id, day) DO UPDATE SET requests = @requests, tokens = @tokens, cost_micros = @cost;
        """;

    private const string Add = """
        INSERT INTO usage_days (token_id, day, requests, tokens, cost_micros) VALUES (@token_id, @day, @requests, @tokens, @cost)
        ON CONFLICT (token_id, day) DO UPDATE SET
            requests = requests + @requests, tokens = tokens + @tokens, cost_micros = cost_micros + @cost
        RETURNING requests, tokens, cost_micros;
        """;

    public async Task<UsageOutcome> TryAddAsync(string tokenId, DateOnly day, UsageDelta delta, Quota quota, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        // The read, the decision and the write in one transaction, so no other process writes between them.
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        var added = TryAdd(connection, tokenId, day, delta, quota);
        await transaction.CommitAsync();
        return added;
    }

    /// <summary>
    /// The quota-checked add on the write connection, inside a write transaction the caller holds (see
    /// <see cref="SqliteMeteringStore"/>).
    /// </summary>
    internal static UsageOutcome TryAdd(SqliteConnectionLease connection, string tokenId, DateOnly day, UsageDelta delta, Quota quota)
    {
        var key = Key(day);
        var current = connection.Statement(Day)
            .Bind("@token_id", tokenId)
            .Bind("@day", key)
            .Single(row => new UsageDay(tokenId, day, raw.sqlite3_column_int64(row, 0), raw.sqlite3_column_int64(row, 1), raw.sqlite3_column_int64(row, 2)))
            ?? new UsageDay(tokenId, day, 0, 0, 0);
        var outcome = QuotaRules.TryAdd(current, delta, quota);
        if (outcome.Added)
        {
            connection.Statement(Write)
                .Bind("@token_id", tokenId)
                .Bind("@day", key)
                .Bind("@requests", outcome.Day.Requests)
                .Bind("@tokens", outcome.Day.Tokens)
                .Bind("@cost", outcome.Day.CostMicros)
                .Execute();
        }

        return outcome;
    }

    public async Task<UsageDay> AddAsync(string tokenId, DateOnly day, UsageDelta delta, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        var rows = await connection.QueryAsync(
            Add,
            r => new UsageDay(tokenId, day, r.GetInt64(0), r.GetInt64(1), r.GetInt64(2)),
            cancellationToken,
            ("@token_id", tokenId),
            ("@day", Key(day)),
            ("@requests", delta.Requests),
            ("@tokens", delta.Tokens),
            ("@cost", delta.CostMicros));
        return rows[0];
    }

    public async Task<IReadOnlyList<UsageDay>> ListAsync(string tokenId, DateOnly from, DateOnly to, CancellationToken cancellationToken)
    {
        await using var connection = await database.ReadAsync(cancellationToken);
        return await connection.QueryAsync(
            "SELECT day, requests, tokens, cost_micros FROM usage_days WHERE token_id = @token_id AND day BETWEEN @from AND @to ORDER BY day DESC;",
            r => new UsageDay(tokenId, DateOnly.ParseExact(r.GetString(0), "yyyy-MM-dd", CultureInfo.InvariantCulture), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3)),
            cancellationToken,
            ("@token_id", tokenId),
            ("@from", Key(from)),
            ("@to", Key(to)));
    }

    private static string Key(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
}
