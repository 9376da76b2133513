using System.Net;
using System.Net.Http.Json;
using IronAuth.Tests.Support;

namespace IronAuth.Tests.EndToEnd;

/// <summary>Headers that every response carries, whoever wrote it: a handler, a problem, or the framework.</summary>
public sealed class HeaderTests : IAsyncLifetime
{
    private TestServer server = null!;

    public async Task InitializeAsync() => server = await TestServer.StartAsync();

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task Every_response_says_nosniff_and_personal_data_is_never_cached()
    {
        var admin = server.NewClient((await server.LoginAdminAsync()).Access);
        var created = await (await admin.PostAsJsonAsync("api/tokens", new { name = "headers" })).ReadJsonAsync();
        var tokenId = created["metadata"]!["id"]!.GetValue<string>();
        var userId = created["metadata"]!["user_id"]!.GetValue<string>();

        var personal = new Dictionary<string, HttpResponseMessage>
        {
            ["login"] = await server.Client.PostAsJsonAsync("api/auth/login", new { username = server.AdminUsername, password = TestServer.AdminPassword }),
            ["failed login"] = await server.Client.PostAsJsonAsync("api/auth/login", new { username = server.AdminUsername, password = "not-the-password" }),
            ["me"] = await admin.GetAsync("api/auth/me"),
            ["me with an API token"] = await server.NewClient(created["token"]!.GetValue<string>()).GetAsync("api/auth/me"),
            ["users"] = await admin.GetAsync("api/users"),
            ["user"] = await admin.GetAsync($"api/users/{userId}"),
            ["tokens"] = await admin.GetAsync("api/tokens"),
            ["token"] = await admin.GetAsync($"api/tokens/{tokenId}"),
            ["usage"] = await admin.GetAsync($"api/tokens/{tokenId}/usage"),
            ["audit"] = await admin.GetAsync("api/audit"),
            ["user audit"] = await admin.GetAsync($"api/users/{userId}/audit"),
            ["no credentials"] = await server.Client.GetAsync("api/users"),
            ["malformed body"] = await admin.PostAsync("api/users", HttpAssertions.Json("{not json")),
            ["unknown route"] = await admin.GetAsync("api/no-such-thing"),
            ["wrong method"] = await admin.PutAsync("api/health", null),
            ["health"] = await server.Client.GetAsync("api/health"),
        };
        var jwks = await server.Client.GetAsync("api/auth/jwks.json");

        Assert.Equal(HttpStatusCode.OK, personal["users"].StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, personal["unknown route"].StatusCode);
        Assert.All(personal.Append(new("jwks", jwks)), pair =>
        {
            Assert.True(pair.Value.Headers.TryGetValues("X-Content-Type-Options", out var values), $"{pair.Key}: no X-Content-Type-Options");
            Assert.Equal("nosniff", Assert.Single(values));
        });
        Assert.All(personal, pair => Assert.True(pair.Value.Headers.CacheControl?.NoStore, $"{pair.Key}: Cache-Control is '{pair.Value.Headers.CacheControl}'"));
        // The public keys are the same for everyone and meant to be cached by verifiers.
        Assert.True(jwks.Headers.CacheControl is { Public: true, NoStore: false, MaxAge: not null });
    }

    [Fact]
    public async Task A_bearer_challenge_names_invalid_token_only_when_a_bearer_token_was_refused()
    {
        var failedLogin = await server.Client.PostAsJsonAsync("api/auth/login", new { username = server.AdminUsername, password = "not-the-password" });
        var failedRefresh = await server.Client.PostAsJsonAsync("api/auth/refresh", new { refresh_token = "not-a-refresh-token" });
        var noBearer = await server.Client.GetAsync("api/auth/me");
        var badBearer = await server.NewClient("not-a-token").GetAsync("api/auth/me");

        // RFC 6750 §3: no bearer token was sent with a sign-in or refresh, so there is no invalid token to name.
        foreach (var response in new[] { failedLogin, failedRefresh, noBearer })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("Bearer", Assert.Single(response.Headers.WwwAuthenticate).ToString());
        }

        await badBearer.AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_token");
        var challenge = Assert.Single(badBearer.Headers.WwwAuthenticate);
        Assert.Equal("Bearer", challenge.Scheme);
        Assert.Contains("error=\"invalid_token\"", challenge.Parameter, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_403_to_a_bearer_names_insufficient_scope()
    {
        var (_, _, user) = await server.CreateUserAsync("user");

        var response = await server.NewClient(user.Access).GetAsync("api/users");

        await response.AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        var challenge = Assert.Single(response.Headers.WwwAuthenticate);
        Assert.Equal("Bearer", challenge.Scheme);
        Assert.StartsWith("error=\"insufficient_scope\"", challenge.Parameter, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Head_health_answers_200_without_a_body()
    {
        using var request = new HttpRequestMessage(HttpMethod.Head, "api/health");

        var response = await server.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Api_token_responses_carry_the_drafts_ratelimit_headers_beside_the_legacy_ones()
    {
        var admin = server.NewClient((await server.LoginAdminAsync()).Access);
        var created = await (await admin.PostAsJsonAsync("api/tokens", new { name = "limits", limits = new { requests_per_second = 2, burst = 6 } })).ReadJsonAsync();
        var token = server.NewClient(created["token"]!.GetValue<string>());

        await token.GetAsync("api/auth/me");
        var second = await token.GetAsync("api/auth/me");

        // Capacity 6, refilled at 2/s: an empty bucket fills in 3 s. Two taken, the clock still: 4 left, 1 s to full.
        Assert.Equal("\"bucket\";q=6;w=3", second.Headers.GetValues("RateLimit-Policy").Single());
        Assert.Equal("\"bucket\";r=4;t=1", second.Headers.GetValues("RateLimit").Single());
        Assert.Equal("4", second.Headers.GetValues("RateLimit-Remaining").Single());
    }

    [Fact]
    public async Task Cors_lets_browsers_read_the_challenge_and_the_limits()
    {
        await using var withCors = await TestServer.StartAsync(settings: new Dictionary<string, string?> { ["IronAuth:Cors:AllowedOrigins:0"] = "https://app.example" });
        using var request = new HttpRequestMessage(HttpMethod.Get, "api/auth/me");
        request.Headers.Add("Origin", "https://app.example");

        var response = await withCors.Client.SendAsync(request);

        var exposed = string.Join(",", response.Headers.GetValues("Access-Control-Expose-Headers"));
        foreach (var header in new[] { "WWW-Authenticate", "Retry-After", "RateLimit", "RateLimit-Policy" })
        {
            Assert.Contains(header, exposed.Split(',', StringSplitOptions.TrimEntries), StringComparer.OrdinalIgnoreCase);
        }
    }
}
