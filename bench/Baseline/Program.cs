using System.Text.Json;
using System.Text.Json.Serialization;

var builder = WebApplication.CreateSlimBuilder(args);
if (string.IsNullOrEmpty(builder.Configuration[WebHostDefaults.ServerUrlsKey]))
{
    builder.WebHost.UseUrls("http://127.0.0.1:7072");
}

// The same runtime settings as the IronAuth server: quiet framework logs, no Server header.
builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
builder.WebHost.ConfigureKestrel(kestrel => kestrel.AddServerHeader = false);

var app = builder.Build();
app.MapGet("/api/health", () => TypedResults.Ok(new Health("ok", "none", "baseline")));

// The floor of a verify's HTTP exchange (bench scenario 10): the same POST read and parsed, and an answer of a verify's
// shape and size with IronAuth's headers, sent whole with a Content-Length; no authentication, no token, no metering.
var answer = JsonSerializer.SerializeToUtf8Bytes(
    new VerifyAnswer(
        true, null, "01a2371f980177948bd5312400f31078", "01a2371f94217e8ba0c8a0ae63c52db5",
        ["audit:read", "budgets:read", "budgets:write", "tokens:read", "tokens:verify", "tokens:write", "users:read", "users:write"],
        DateTimeOffset.UtcNow.AddDays(30), new RateLimit(20, 19, 1),
        new Quota("2026-12-02", new Counter(null, 1, null), new Counter(null, 0, null), new Counter(null, 0, null), null)),
    BaselineJson.Default.VerifyAnswer);
app.MapPost("/api/tokens/verify", async (HttpContext context) =>
{
    if (await JsonSerializer.DeserializeAsync(context.Request.Body, BaselineJson.Default.VerifyQuestion, context.RequestAborted) is not { Token.Length: > 0 })
    {
        return Results.BadRequest();
    }

    var headers = context.Response.Headers;
    headers.CacheControl = "no-store";
    headers.XContentTypeOptions = "nosniff";
    headers["RateLimit-Policy"] = "\"bucket\";q=20;w=2";
    headers["RateLimit"] = "\"bucket\";r=19;t=1";
    headers["RateLimit-Limit"] = "20";
    headers["RateLimit-Remaining"] = "19";
    headers["RateLimit-Reset"] = "1";
    return Results.Bytes(answer, "application/json; charset=utf-8");
});
await app.RunAsync();

internal sealed record Health(string Status, string Store, string Version);

internal sealed record VerifyQuestion(string Token, Usage? Usage);

internal sealed record Usage(long? Tokens, decimal? Cost);

internal sealed record VerifyAnswer(
    bool Valid, string? Code, string TokenId, string UserId, string[] Scopes, DateTimeOffset ExpiresAt, RateLimit Ratelimit, Quota Quota);

internal sealed record RateLimit(int Limit, int Remaining, int Reset);

internal sealed record Quota(string Day, Counter DailyRequests, Counter DailyTokens, Counter DailyCost, string? Exhausted);

internal sealed record Counter(long? Limit, long Used, long? Remaining);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(VerifyQuestion))]
[JsonSerializable(typeof(VerifyAnswer))]
internal sealed partial class BaselineJson : JsonSerializerContext;
