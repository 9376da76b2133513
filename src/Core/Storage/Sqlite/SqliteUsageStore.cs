using System.Globalization;
using IronAuth.Core.Limits;
using SQLitePCL;

namespace IronAuth.Core.Storage.Sqlite;

public sealed class SqliteUsageStore(SqliteDatabase database) : IUsageStore
{
    // The WHERE clauses are QuotaRules.Refusal in SQL: a capped counter must not be used up already and
    // must stay within its cap after the delta. Check and add are one statement under SQLite's write lock.
    // No RETURNING on this hot statement: the row is read after it (see SqliteRateBucketStore.TakeSql).
    private const string TryAddSql = """
        INSERT INTO usage_days (token_id, day, requests, tokens, cost_micros)
        SELECT @token_id, @day, @requests, @tokens, @cost
        WHERE NOT ((@requests_cap > 0 AND @requests > @requests_cap)
                OR (@tokens_cap > 0 AND @tokens > @tokens_cap)
                OR (@cost_cap > 0 AND @cost > @cost_cap))
        ON CONFLICT (token_id, day) DO UPDATE SET
            requests = requests + @requests, tokens = tokens + @tokens, cost_micros = cost_micros + @cost
        WHERE NOT ((@requests_cap > 0 AND (requests >= @requests_cap OR requests + @requests > @requests_cap))
                OR (@tokens_cap > 0 AND (tokens >= @tokens_cap OR tokens + @tokens > @tokens_cap))
                OR (@cost_cap > 0 AND (cost_micros >= @cost_cap OR cost_micros + @cost > @cost_cap)));
        """;

    private const string Day = "SELECT requests, tokens, cost_micros FROM usage_days WHERE token_id = @token_id AND day = @day;";

    private const string Add = """
        INSERT INTO usage_days (token_id, day, requests, tokens, cost_micros) VALUES (@token_id, @day, @requests, @tokens, @cost)
        ON CONFLICT (token_id, day) DO UPDATE SET
            requests = requests + @requests, tokens = tokens + @tokens, cost_micros = cost_micros + @cost
        RETURNING requests, tokens, cost_micros;
        """;

    public async Task<UsageOutcome> TryAddAsync(string tokenId, DateOnly day, UsageDelta delta, Quota quota, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        // The write and the read after it in one transaction, so no other process writes between them.
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        var added = TryAdd(connection, tokenId, day, delta, quota);
        await transaction.CommitAsync();
        return added;
    }

    /// <summary>The quota-checked add on a write connection the caller holds (see <see cref="SqliteMeteringStore"/>).</summary>
    internal static UsageOutcome TryAdd(SqliteConnectionLease connection, string tokenId, DateOnly day, UsageDelta delta, Quota quota)
    {
        var key = Key(day);
        var added = connection.Statement(TryAddSql)
            .Bind("@token_id", tokenId)
            .Bind("@day", key)
            .Bind("@requests", delta.Requests)
            .Bind("@tokens", delta.Tokens)
            .Bind("@cost", delta.CostMicros)
            .Bind("@requests_cap", quota.DailyRequests)
            .Bind("@tokens_cap", quota.DailyTokens)
            .Bind("@cost_cap", quota.DailyCostMicros)
            .Execute() == 1;
        var current = connection.Statement(Day)
            .Bind("@token_id", tokenId)
            .Bind("@day", key)
            .Single(row => new UsageDay(tokenId, day, raw.sqlite3_column_int64(row, 0), raw.sqlite3_column_int64(row, 1), raw.sqlite3_column_int64(row, 2)))
            ?? new UsageDay(tokenId, day, 0, 0, 0);
        return added
            ? new UsageOutcome(true, current, QuotaRules.Exhausted(current, quota))
            : new UsageOutcome(false, current, QuotaRules.Refusal(current, delta, quota));
    }

    public async Task<UsageDay> AddAsync(string tokenId, DateOnly day, UsageDelta delta, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        var rows = await connection.QueryAsync(
            Add,
            r => new UsageDay(tokenId, day, r.GetInt64(0), r.GetInt64(1), r.GetInt64(2)),
            cancellationToken,
            Parameters(tokenId, day, delta));
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

    private static (string, object?)[] Parameters(string tokenId, DateOnly day, UsageDelta delta) =>
    [
        ("@token_id", tokenId),
        ("@day", Key(day)),
        ("@requests", delta.Requests),
        ("@tokens", delta.Tokens),
        ("@cost", delta.CostMicros),
    ];

    private static string Key(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
}
