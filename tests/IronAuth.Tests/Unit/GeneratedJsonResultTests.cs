using System.Text;
using System.Text.Json.Serialization.Metadata;
using IronAuth.Api.Contracts;
using IronAuth.Api.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace IronAuth.Tests.Unit;

/// <summary>
/// The hot answers written by the source generator's serializer (<see cref="GeneratedJsonResult{T}"/>) are byte for byte
/// what <c>TypedResults.Ok</c> writes with ASP.NET Core's JSON options as the API configures them.
/// </summary>
public sealed class GeneratedJsonResultTests
{
    private static readonly DateTimeOffset At = new(2026, 12, 2, 9, 30, 15, 123, TimeSpan.Zero);

    public static TheoryData<string> Cases() => ["verify valid", "verify refused", "me"];

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Writes_the_same_bytes_as_the_framework_serializer(string name)
    {
        (string Generated, string Framework) written = name switch
        {
            "verify valid" => await BothAsync(
                new VerifyTokenResponse(true, null, "tok_01<&>", "usr_Ä", ["tokens:read", "usage+x"], At, new RateLimitInfo(100, 99, 1764667815),
                    new QuotaInfo("2026-12-02", new(1000, 5, 995), new(null, 1200, null), new(12.5m, 0.004200m, 12.4958m), null)),
                ApiJsonContext.Default.VerifyTokenResponse),
            "verify refused" => await BothAsync(new VerifyTokenResponse(false, "not_found", null, null, null, null, null, null), ApiJsonContext.Default.VerifyTokenResponse),
            _ => await BothAsync(
                new MeResponse(new UserResponse("usr_1", "zoë", "z@example.com", "Zoë \"Z\" <script>", "admin", "active", null, At.AddHours(1), At, At, true),
                    "admin", "api_token", ["tokens:verify"], null, "tok_1"),
                ApiJsonContext.Default.MeResponse),
        };

        Assert.Equal(written.Framework, written.Generated);
        Assert.StartsWith("{", written.Generated, StringComparison.Ordinal);
    }

    private static async Task<(string Generated, string Framework)> BothAsync<T>(T value, JsonTypeInfo<T> typeInfo)
    {
        // The generated writer, not the metadata-based fallback, is what these answers use.
        Assert.NotNull(typeInfo.SerializeHandler);
        var services = new ServiceCollection().AddLogging();
        services.ConfigureHttpJsonOptions(o => ApiJson.Configure(o.SerializerOptions));
        await using var provider = services.BuildServiceProvider();

        var generated = new DefaultHttpContext { RequestServices = provider };
        generated.Response.Body = new MemoryStream();
        await new GeneratedJsonResult<T>(value, typeInfo).ExecuteAsync(generated);

        var framework = new DefaultHttpContext { RequestServices = provider };
        framework.Response.Body = new MemoryStream();
        await TypedResults.Ok(value).ExecuteAsync(framework);

        Assert.Equal(framework.Response.ContentType, generated.Response.ContentType);
        Assert.Equal(framework.Response.StatusCode, generated.Response.StatusCode);
        // Sent with its length, not chunked.
        Assert.Equal(generated.Response.Body.Length, generated.Response.ContentLength);
        return (Text(generated), Text(framework));
    }

    private static string Text(HttpContext context) => Encoding.UTF8.GetString(((MemoryStream)context.Response.Body).ToArray());
}
