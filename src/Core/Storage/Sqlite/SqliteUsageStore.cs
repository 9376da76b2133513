using System.Globalization;
using IronAuth.Core.Limits;
using SQLitePCL;

namespace IronAuth.Core.Storage.Sqlite;

public sealed class SqliteUsageStore(SqliteDatabase database, TimeProvider time) : IUsageStore
{
    // Read, decide (QuotaRules.TryAdd, as the Table store does) and write inside the caller's write transaction, which
    // holds the database's write lock throughout: concurrent callers from any process never overspend a quota.
    private const string Day = "SELECT requests, tokens, cost_micros FROM usage_days WHERE token_id = @token_id AND day = @day;";

    private const string Upsert = """
        INSERT INTO usage_days (token_id, day, requests, tokens, cost_micros) VALUES (@token_id, @day, @requests, @tokens, @cost)
        ON CONFLICT (token_id, day) DO UPDATE SET requests = @requests, tokens = @tokens, cost_micros = @cost;
        """;

    public async Task<UsageOutcome> TryAddAsync(string tokenId, DateOnly day, UsageDelta delta, Quota quota, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        // The read, the decision and the write in one transaction, so no other process writes between them.
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        if (delta.Detail?.RequestId is { } requestId && SqliteUsageDetails.Replay(connection, tokenId, requestId) is { Usage: { } replayed })
        {
            return replayed;
        }

        var breakdown = SqliteUsageDetails.Decide(connection, tokenId, day, delta);
        var added = TryAdd(connection, tokenId, day, delta, quota);
        if (delta.Detail is { } detail && added.Added)
        {
            SqliteUsageDetails.Write(connection, tokenId, detail, time.GetUtcNow(), breakdown, UsageReplay.Encode(null, added));
        }

        await transaction.CommitAsync();
        return added;
    }

    /// <summary>
    /// The quota-checked add on the write connection, inside a write transaction the caller holds (see
    /// <see cref="SqliteMeteringStore"/>).
    /// </summary>
    internal static UsageOutcome TryAdd(SqliteConnectionLease connection, string tokenId, DateOnly day, UsageDelta delta, Quota quota)
    {
        var outcome = Decide(connection, tokenId, day, delta, quota);
        Write(connection, outcome);
        return outcome;
    }

    /// <summary>The read and the decision of a quota-checked add, writing nothing (see <see cref="SqliteMeteringStore"/>).</summary>
    internal static UsageOutcome Decide(SqliteConnectionLease connection, string tokenId, DateOnly day, UsageDelta delta, Quota quota) =>
        QuotaRules.TryAdd(Current(connection, tokenId, day), delta, quota);

    /// <summary>Stores the day of an add that was admitted (nothing for a refusal).</summary>
    internal static void Write(SqliteConnectionLease connection, UsageOutcome outcome)
    {
        if (outcome.Added)
        {
            connection.Statement(Upsert)
                .Bind("@token_id", outcome.Day.TokenId)
                .Bind("@day", Key(outcome.Day.Day))
                .Bind("@requests", outcome.Day.Requests)
                .Bind("@tokens", outcome.Day.Tokens)
                .Bind("@cost", outcome.Day.CostMicros)
                .Execute();
        }
    }

    /// <summary>
    /// Usage that already happened: read, added in C# with each counter saturating at <see cref="long.MaxValue"/>
    /// (<see cref="QuotaRules.AddSaturating"/>), written, in one write transaction. Not <c>requests + @requests</c>
    /// in SQL: SQLite turns an integer overflow into a REAL, which would no longer be an exact count.
    /// </summary>
    public async Task<UsageDay> AddAsync(string tokenId, DateOnly day, UsageDelta delta, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        if (delta.Detail?.RequestId is { } requestId && SqliteUsageDetails.Replay(connection, tokenId, requestId) is { Usage: { } replayed })
        {
            return replayed.Day;
        }

        var breakdown = SqliteUsageDetails.Decide(connection, tokenId, day, delta);
        var after = QuotaRules.AddSaturating(Current(connection, tokenId, day), delta);
        var outcome = new UsageOutcome(true, after, QuotaKind.None);
        Write(connection, outcome);
        if (delta.Detail is { } detail)
        {
            SqliteUsageDetails.Write(connection, tokenId, detail, time.GetUtcNow(), breakdown, UsageReplay.Encode(null, outcome));
        }

        await transaction.CommitAsync();
        return after;
    }

    /// <summary>The token's stored counters of <paramref name="day"/> (zeros when it has no row).</summary>
    internal static UsageDay Current(SqliteConnectionLease connection, string tokenId, DateOnly day) =>
        connection.Statement(Day)
            .Bind("@token_id", tokenId)
            .Bind("@day", Key(day))
            .Single(row => new UsageDay(tokenId, day, raw.sqlite3_column_int64(row, 0), raw.sqlite3_column_int64(row, 1), raw.sqlite3_column_int64(row, 2)))
        ?? new UsageDay(tokenId, day, 0, 0, 0);

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

    public async Task<IReadOnlyList<UsageBreakdownDay>> ListBreakdownAsync(string tokenId, DateOnly from, DateOnly to, CancellationToken cancellationToken)
    {
        await using var connection = await database.ReadAsync(cancellationToken);
        return await connection.QueryAsync(
            """
            SELECT day, provider, model, requests, input_tokens, output_tokens, tokens, cost_micros FROM usage_breakdown
            WHERE token_id = @token_id AND day BETWEEN @from AND @to ORDER BY day DESC, provider, model;
            """,
            r => new UsageBreakdownDay(
                tokenId, DateOnly.ParseExact(r.GetString(0), "yyyy-MM-dd", CultureInfo.InvariantCulture), r.GetString(1), r.GetString(2),
                r.GetInt64(3), r.GetInt64(4), r.GetInt64(5), r.GetInt64(6), r.GetInt64(7)),
            cancellationToken,
            ("@token_id", tokenId),
            ("@from", Key(from)),
            ("@to", Key(to)));
    }

    internal static string Key(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
}
