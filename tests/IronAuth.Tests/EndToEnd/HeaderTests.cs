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
}
