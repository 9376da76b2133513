using IronAuth.Core.Limits;
using SQLitePCL;

namespace IronAuth.Core.Storage.Sqlite;

/// <summary>
/// The detail of a usage report in SQLite, always inside the write transaction that counts the use (so a key and
/// the count it answers for commit together or not at all): <c>usage_requests</c> holds each counted use's
/// idempotency key with its answer, <c>usage_breakdown</c> one row per token, day, provider and model (bounded by
/// <see cref="UsageDetail.MaxPairsPerDay"/>). Only reports that carry detail reach this class.
/// </summary>
internal static class SqliteUsageDetails
{
    private const string FindRequest = "SELECT outcome FROM usage_requests WHERE token_id = @token_id AND request_id = @request_id;";

    private const string InsertRequest = "INSERT INTO usage_requests (token_id, request_id, at, outcome) VALUES (@token_id, @request_id, @at, @outcome);";

    private const string FindPair = """
        SELECT requests, input_tokens, output_tokens, tokens, cost_micros FROM usage_breakdown
        WHERE token_id = @token_id AND day = @day AND provider = @provider AND model = @model;
        """;

    private const string CountPairs = "SELECT count(*) FROM usage_breakdown WHERE token_id = @token_id AND day = @day AND provider <> '*';";

    private const string UpsertPair = """
        INSERT INTO usage_breakdown (token_id, day, provider, model, requests, input_tokens, output_tokens, tokens, cost_micros)
        VALUES (@token_id, @day, @provider, @model, @requests, @input, @output, @tokens, @cost)
        ON CONFLICT (token_id, day, provider, model) DO UPDATE SET
            requests = @requests, input_tokens = @input, output_tokens = @output, tokens = @tokens, cost_micros = @cost;
        """;

    /// <summary>The stored answer of an earlier use with this key, or null.</summary>
    public static MeteredUse? Replay(SqliteConnectionLease connection, string tokenId, string requestId) =>
        connection.Statement(FindRequest)
            .Bind("@token_id", tokenId)
            .Bind("@request_id", requestId)
            .Single(row => raw.sqlite3_column_text(row, 0).utf8_to_string()) is { } stored
            ? UsageReplay.Decode(tokenId, stored)
            : null;

    /// <summary>The breakdown row after the use (read and decided, nothing written), or null when the use has none.</summary>
    public static UsageBreakdownDay? Decide(SqliteConnectionLease connection, string tokenId, DateOnly day, UsageDelta delta)
    {
        if (delta.Detail is not { HasBreakdown: true } detail)
        {
            return null;
        }

        var key = SqliteUsageStore.Key(day);
        var named = Find(connection, tokenId, key, detail.Provider ?? "", detail.Model ?? "");
        var (provider, model) = named is not null
            ? (detail.Provider ?? "", detail.Model ?? "")
            : UsageBreakdown.PairFor(detail, (int)connection.Statement(CountPairs).Bind("@token_id", tokenId).Bind("@day", key).Single(row => raw.sqlite3_column_int64(row, 0)), false);
        var current = (provider, model) == (detail.Provider ?? "", detail.Model ?? "") ? named : Find(connection, tokenId, key, provider, model);
        var after = (current ?? new UsageBreakdown.Entry(provider, model, 0, 0, 0, 0, 0)).Plus(delta, detail);
        return new UsageBreakdownDay(tokenId, day, provider, model, after.Requests, after.InputTokens, after.OutputTokens, after.Tokens, after.CostMicros);
    }

    /// <summary>Stores a counted use's breakdown row and its key with the answer it gave (either may be absent).</summary>
    public static void Write(SqliteConnectionLease connection, string tokenId, UsageDetail detail, DateTimeOffset now, UsageBreakdownDay? row, string answer)
    {
        if (row is not null)
        {
            connection.Statement(UpsertPair)
                .Bind("@token_id", tokenId)
                .Bind("@day", SqliteUsageStore.Key(row.Day))
                .Bind("@provider", row.Provider)
                .Bind("@model", row.Model)
                .Bind("@requests", row.Requests)
                .Bind("@input", row.InputTokens)
                .Bind("@output", row.OutputTokens)
                .Bind("@tokens", row.Tokens)
                .Bind("@cost", row.CostMicros)
                .Execute();
        }

        if (detail.RequestId is { } requestId)
        {
            connection.Statement(InsertRequest)
                .Bind("@token_id", tokenId)
                .Bind("@request_id", requestId)
                .Bind("@at", now.ToUnixTimeMilliseconds())
                .Bind("@outcome", answer)
                .Execute();
        }
    }

    private static UsageBreakdown.Entry? Find(SqliteConnectionLease connection, string tokenId, string day, string provider, string model) =>
        connection.Statement(FindPair)
            .Bind("@token_id", tokenId)
            .Bind("@day", day)
            .Bind("@provider", provider)
            .Bind("@model", model)
            .Single(row => new UsageBreakdown.Entry(
                provider, model, raw.sqlite3_column_int64(row, 0), raw.sqlite3_column_int64(row, 1), raw.sqlite3_column_int64(row, 2),
                raw.sqlite3_column_int64(row, 3), raw.sqlite3_column_int64(row, 4)));
}
