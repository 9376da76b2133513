using System.Globalization;
using IronAuth.Core.Analytics;
using IronAuth.Core.Limits;

namespace IronAuth.Core.Storage.Sqlite;

/// <summary>
/// Usage across tokens: two range reads over the day indexes (<c>ix_usage_days_day</c>, <c>ix_usage_breakdown_day</c>),
/// each joined to the token for its owner, so a query reads only the rows of its days. Usage of a purged token stays
/// (until its own retention) with no owner.
/// </summary>
public sealed class SqliteUsageAnalyticsStore(SqliteDatabase database) : IUsageAnalyticsStore
{
    public async Task<IReadOnlyList<TokenActivity>> ListActivityAsync(DateOnly from, DateOnly to, string? ownerId, CancellationToken cancellationToken)
    {
        await using var connection = await database.ReadAsync(cancellationToken);
        var parameters = new (string, object?)[] { ("@from", SqliteUsageStore.Key(from)), ("@to", SqliteUsageStore.Key(to)), ("@owner", ownerId) };
        var days = await connection.QueryAsync(
            """
            SELECT u.token_id, t.user_id, u.day, u.requests, u.tokens, u.cost_micros
            FROM usage_days u INDEXED BY ix_usage_days_day LEFT JOIN api_tokens t ON t.id = u.token_id
            WHERE u.day BETWEEN @from AND @to AND (@owner IS NULL OR t.user_id = @owner);
            """,
            r => (Owner: r.IsDBNull(1) ? null : r.GetString(1), Day: new UsageDay(r.GetString(0), Day(r.GetString(2)), r.GetInt64(3), r.GetInt64(4), r.GetInt64(5))),
            cancellationToken,
            parameters);
        var breakdown = await connection.QueryAsync(
            """
            SELECT b.token_id, b.day, b.provider, b.model, b.requests, b.input_tokens, b.output_tokens, b.tokens, b.cost_micros
            FROM usage_breakdown b INDEXED BY ix_usage_breakdown_day LEFT JOIN api_tokens t ON t.id = b.token_id
            WHERE b.day BETWEEN @from AND @to AND (@owner IS NULL OR t.user_id = @owner);
            """,
            r => new UsageBreakdownDay(r.GetString(0), Day(r.GetString(1)), r.GetString(2), r.GetString(3), r.GetInt64(4), r.GetInt64(5), r.GetInt64(6), r.GetInt64(7), r.GetInt64(8)),
            cancellationToken,
            parameters);
        var rows = breakdown.ToLookup(b => b.TokenId, StringComparer.Ordinal);
        return [.. days.GroupBy(d => d.Day.TokenId, StringComparer.Ordinal)
            .Select(g => new TokenActivity(g.Key, g.First().Owner, [.. g.Select(d => d.Day)], [.. rows[g.Key]]))];
    }

    private static DateOnly Day(string value) => DateOnly.ParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture);
}
