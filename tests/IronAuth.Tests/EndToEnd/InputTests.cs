using System.Net;
using System.Net.Http.Json;
using IronAuth.Tests.Support;
using Xunit.Abstractions;

namespace IronAuth.Tests.EndToEnd;

public abstract class InputTests(ApiTarget target) : IAsyncLifetime
{
    private IApiHost server = null!;
    private HttpClient admin = null!;

    public async Task InitializeAsync()
    {
        server = await target.StartAsync();
        admin = server.NewClient((await server.LoginAdminAsync()).Access);
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Theory]
    [InlineData("{")]
    [InlineData("not json at all")]
    [InlineData("[]")]
    [InlineData("null")]
    [InlineData("\"a string\"")]
    [InlineData("{\"username\": 12, \"password\": \"x\"}")]
    [InlineData("{\"username\": \"a\", \"password\": [\"x\"]}")]
    [InlineData("{\"username\": \"a\"}")]
    [InlineData("{\"username\": null, \"password\": \"x\"}")]
    [InlineData("{\"username\": \"a\", \"password\": \"x\", \"extra\": {\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{\"i\":{\"j\":{\"k\":{\"l\":{\"m\":{\"n\":{\"o\":{\"p\":{\"q\":1}}}}}}}}}}}}}}}}}}")]
    public async Task Malformed_login_bodies_are_400_problems(string raw)
    {
        var response = await server.Client.PostAsync("api/auth/login", HttpAssertions.Json(raw));
        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
    }

    [Fact]
    public async Task Empty_body_is_a_400_problem()
    {
        var response = await server.Client.PostAsync("api/auth/login", HttpAssertions.Json(""));
        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
    }

    [Fact]
    public async Task Huge_bodies_are_413_problems_with_or_without_content_length()
    {
        var huge = "{\"username\":\"" + new string('a', 200_000) + "\",\"password\":\"x\"}";
        var withLength = await server.Client.PostAsync("api/auth/login", HttpAssertions.Json(huge));
        await withLength.AssertProblemAsync(HttpStatusCode.RequestEntityTooLarge, "payload_too_large");

        var chunked = new StreamContent(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(huge)));
        chunked.Headers.ContentType = new("application/json");
        var request = new HttpRequestMessage(HttpMethod.Post, "api/users") { Content = chunked };
        request.Headers.TransferEncodingChunked = true;
        var withoutLength = await admin.SendAsync(request);
        await withoutLength.AssertProblemAsync(HttpStatusCode.RequestEntityTooLarge, "payload_too_large");
    }

    [Fact]
    public async Task A_body_just_under_the_limit_is_read_whole_in_several_pieces()
    {
        // 60 KiB of whitespace arrives in several of Kestrel's buffers; trailing garbage after it is still refused.
        var body = "{\"username\":\"padded\",\"password\":\"a-long-enough-password\",\"role\":\"viewer\"" + new string(' ', 60 * 1024) + "}";
        var chunked = new StreamContent(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(body)));
        chunked.Headers.ContentType = new("application/json");
        var request = new HttpRequestMessage(HttpMethod.Post, "api/users") { Content = chunked };
        request.Headers.TransferEncodingChunked = true;

        Assert.Equal(HttpStatusCode.Created, (await admin.SendAsync(request)).StatusCode);
        await (await admin.PostAsync("api/users", HttpAssertions.Json(body + new string(' ', 1024) + "x")))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
    }

    [Fact]
    public async Task Non_json_content_type_is_a_415_problem()
    {
        var response = await server.Client.PostAsync("api/auth/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["username"] = "a" }));
        await response.AssertProblemAsync(HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
    }

    [Fact]
    public async Task Oversized_or_odd_strings_never_cause_a_500()
    {
        var cases = new object[]
        {
            new { username = new string('x', 5000), password = "x" },
            new { username = "admin\u0000", password = "\u0000" },
            new { username = "😀😀😀😀", password = new string('p', 10_000) },
        };
        foreach (var body in cases)
        {
            var response = await server.Client.PostAsJsonAsync("api/auth/login", body);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        var create = await admin.PostAsJsonAsync("api/users", new { username = new string('x', 5000), password = new string('p', 10_000), role = "user" });
        await create.AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        var patch = await admin.PatchAsync($"api/users/{Guid.NewGuid():N}", HttpAssertions.Json("{\"email\": 5}"));
        await patch.AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
    }

    [ServerFact("the Functions host answers a route or method no function has itself (404, no body)")]
    public async Task Unknown_routes_and_methods_answer_problems()
    {
        var missing = await server.Client.GetAsync("api/no-such-thing");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);

        await missing.AssertProblemAsync(HttpStatusCode.NotFound, "not_found");

        var wrongMethod = await server.Client.DeleteAsync("api/auth/login");
        await wrongMethod.AssertProblemAsync(HttpStatusCode.MethodNotAllowed, "method_not_allowed");
    }
}

public sealed class SqliteInputTests() : InputTests(TestStore.Sqlite);

public sealed class TablesInputTests() : InputTests(TestStore.Tables);

public sealed class FunctionsSqliteInputTests(ITestOutputHelper output) : InputTests(ApiTarget.FunctionsOn(TestStore.Sqlite, output)), IRunsOnFunctions;

public sealed class FunctionsTablesInputTests(ITestOutputHelper output) : InputTests(ApiTarget.FunctionsOn(TestStore.Tables, output)), IRunsOnFunctions;
