using System.Net;
using System.Net.Http.Json;
using IronAuth.Tests.Support;

namespace IronAuth.Tests.Accounts;

/// <summary>Sign-in with ID tokens from a local OpenID provider (real discovery, JWKS and RS256 signatures), on both stores.</summary>
public abstract class FederationTests(string store) : IAsyncLifetime
{
    private const string ClientId = "ironauth-test-client";

    private OpenIdProvider provider = null!;
    private TestServer server = null!;

    public async Task InitializeAsync()
    {
        provider = await OpenIdProvider.StartAsync();
        server = await TestServer.StartAsync(store, new Dictionary<string, string?>
        {
            // "local" creates accounts; "linker" (same provider) only links by verified email.
            ["IronAuth:Federation:Providers:local:Authority"] = provider.Authority,
            ["IronAuth:Federation:Providers:local:ClientId"] = ClientId,
            ["IronAuth:Federation:Providers:local:CreateUsers"] = "true",
            ["IronAuth:Federation:Providers:linker:Authority"] = provider.Authority,
            ["IronAuth:Federation:Providers:linker:ClientId"] = ClientId,
            ["IronAuth:Federation:Providers:linker:LinkByEmail"] = "true",
        });
    }

    public async Task DisposeAsync()
    {
        await server.DisposeAsync();
        await provider.DisposeAsync();
    }

    private DateTimeOffset Now => server.Time.GetUtcNow();

    private static string NewSubject() => "sub-" + Guid.NewGuid().ToString("N");

    private static string NewAddress() => $"fed.{Guid.NewGuid():N}@example.com";

    private Task<HttpResponseMessage> SignInAsync(string idToken, string name = "local") =>
        server.Client.PostAsJsonAsync("api/auth/federated", new { provider = name, id_token = idToken });

    [Fact]
    public async Task A_provider_serving_no_usable_discovery_document_refuses_the_sign_in_with_401_not_500()
    {
        var idToken = provider.IdToken(ClientId, NewSubject(), Now, NewAddress());
        foreach (var broken in new[] { "<html><body>Bad gateway</body></html>", "{\"issuer\": ", "{\"issuer\": 5, \"jwks_uri\": []}" })
        {
            provider.BrokenDiscovery = broken;
            await (await SignInAsync(idToken)).AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_id_token");
        }

        // Nothing of the failures was kept: once the provider serves its document again, the same token signs in.
        provider.BrokenDiscovery = null;
        Assert.Equal(HttpStatusCode.OK, (await SignInAsync(idToken)).StatusCode);
    }

    [Fact]
    public async Task A_first_sign_in_creates_an_account_and_the_same_sub_always_reaches_it()
    {
        var subject = NewSubject();
        var email = NewAddress();

        var first = await SignInAsync(provider.IdToken(ClientId, subject, Now, email));

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.True(first.Headers.CacheControl?.NoStore);
        var body = await first.ReadJsonAsync();
        var userId = body["user"]!["id"]!.GetValue<string>();
        Assert.Equal(email, body["user"]!["email"]!.GetValue<string>());
        Assert.True(body["user"]!["email_verified"]!.GetValue<bool>());
        Assert.Equal("user", body["user"]!["role"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await server.NewClient(body["access_token"]!.GetValue<string>()).GetAsync("api/auth/me")).StatusCode);

        // Later, with a changed email: still the same account (linked by sub, never by email).
        server.Time.Advance(TimeSpan.FromMinutes(1));
        var again = await SignInAsync(provider.IdToken(ClientId, subject, Now, NewAddress()));
        Assert.Equal(userId, (await again.ReadJsonAsync())["user"]!["id"]!.GetValue<string>());

        // Concurrent first sign-ins of one new identity (with one email) all reach one account.
        var fresh = NewSubject();
        var freshEmail = NewAddress();
        var answers = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => SignInAsync(provider.IdToken(ClientId, fresh, Now, freshEmail))));
        var ids = new HashSet<string>();
        foreach (var answer in answers)
        {
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            ids.Add((await answer.ReadJsonAsync())["user"]!["id"]!.GetValue<string>());
        }

        Assert.Single(ids);
    }

    [Fact]
    public async Task Every_bad_id_token_is_401_invalid_id_token()
    {
        var subject = NewSubject();
        var bad = new[]
        {
            // Forged: signed by a key the provider does not publish, under the published kid and under an unknown one.
            provider.IdToken(ClientId, subject, Now, signWith: OpenIdProvider.NewKey(provider.KeyId)),
            provider.IdToken(ClientId, subject, Now, signWith: OpenIdProvider.NewKey()),
            // For another client.
            provider.IdToken("someone-else", subject, Now),
            // Expired, beyond the clock skew; and not valid yet.
            provider.IdToken(ClientId, subject, Now - TimeSpan.FromMinutes(10), lifetime: TimeSpan.FromMinutes(5)),
            provider.IdToken(ClientId, subject, Now, notBefore: Now + TimeSpan.FromMinutes(5), lifetime: TimeSpan.FromMinutes(10)),
            // Another issuer.
            provider.IdToken(ClientId, subject, Now, issuer: "https://elsewhere.example"),
            // The provider's access tokens (same issuer, keys and audience), and tokens issued to another party (OIDC Core
            // §3.1.3.7: azp must be the client; with several audiences, there must be one).
            provider.IdToken(ClientId, subject, Now, extraClaims: new Dictionary<string, object> { ["scp"] = "User.Read" }),
            provider.IdToken(ClientId, subject, Now, type: "at+jwt"),
            provider.IdToken(ClientId, subject, Now, extraClaims: new Dictionary<string, object> { ["azp"] = "another-client" }),
            provider.IdToken(ClientId, subject, Now, extraClaims: new Dictionary<string, object> { ["aud"] = new[] { ClientId, "another-api" } }),
            // Unsigned, and not a token at all.
            string.Join('.', provider.IdToken(ClientId, subject, Now).Split('.')[..2]) + ".",
            "not-a-token",
        };

        for (var i = 0; i < bad.Length; i++)
        {
            var response = await SignInAsync(bad[i]);
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"bad token {i}: {response.StatusCode}");
            await response.AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_id_token");
        }

        // The good one still works: nothing above was a server error or poisoned the cache.
        Assert.Equal(HttpStatusCode.OK, (await SignInAsync(provider.IdToken(ClientId, subject, Now))).StatusCode);
    }

    [Fact]
    public async Task An_unknown_provider_is_400_and_malformed_bodies_are_400()
    {
        await (await SignInAsync(provider.IdToken(ClientId, NewSubject(), Now), "nowhere")).AssertProblemAsync(HttpStatusCode.BadRequest, "unknown_provider");
        await (await server.Client.PostAsync("api/auth/federated", HttpAssertions.Json("""{"provider":"local"}""")))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
    }

    [Fact]
    public async Task A_provider_key_rotation_is_followed_when_a_token_names_an_unknown_kid()
    {
        Assert.Equal(HttpStatusCode.OK, (await SignInAsync(provider.IdToken(ClientId, NewSubject(), Now))).StatusCode);
        Assert.Equal(1, provider.DiscoveryFetches);

        provider.RotateKey();
        server.Time.Advance(TimeSpan.FromMinutes(1));

        Assert.Equal(HttpStatusCode.OK, (await SignInAsync(provider.IdToken(ClientId, NewSubject(), Now))).StatusCode);
        Assert.Equal(2, provider.DiscoveryFetches);
        // Made-up kids right after do not make IronAuth fetch again (at most once a minute).
        for (var i = 0; i < 3; i++)
        {
            await (await SignInAsync(provider.IdToken(ClientId, NewSubject(), Now, signWith: OpenIdProvider.NewKey())))
                .AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_id_token");
        }

        Assert.Equal(2, provider.DiscoveryFetches);
    }

    [Fact]
    public async Task Link_by_email_needs_a_verified_email_and_otherwise_creates_nothing()
    {
        var email = NewAddress();
        var admin = server.NewClient((await server.LoginAdminAsync()).Access);
        var created = await admin.PostAsJsonAsync(
            "api/users", new { username = "u" + Guid.NewGuid().ToString("N")[..10], password = "correct-horse-battery-staple-7", email, role = "user" });
        var userId = (await created.ReadJsonAsync())["id"]!.GetValue<string>();

        // The provider does not vouch for the address: no link, and "linker" creates no accounts.
        await (await SignInAsync(provider.IdToken(ClientId, NewSubject(), Now, email.ToUpperInvariant(), emailVerified: false), "linker"))
            .AssertProblemAsync(HttpStatusCode.Forbidden, "account_not_linked");

        var subject = NewSubject();
        var linked = await SignInAsync(provider.IdToken(ClientId, subject, Now, email.ToUpperInvariant()), "linker");

        Assert.Equal(HttpStatusCode.OK, linked.StatusCode);
        Assert.Equal(userId, (await linked.ReadJsonAsync())["user"]!["id"]!.GetValue<string>());
        // From now on the sub alone reaches the account, whatever email the token carries.
        var later = await SignInAsync(provider.IdToken(ClientId, subject, Now), "linker");
        Assert.Equal(userId, (await later.ReadJsonAsync())["user"]!["id"]!.GetValue<string>());
        var audit = await (await admin.GetAsync($"api/users/{userId}/audit")).ReadJsonAsync();
        Assert.Contains(audit["items"]!.AsArray(), e => e!["action"]!.GetValue<string>() == "user.identity_linked");
        // "local" (which creates accounts) does not take over the address: it makes a new account without it.
        var other = await SignInAsync(provider.IdToken(ClientId, NewSubject(), Now, email));
        var otherUser = (await other.ReadJsonAsync())["user"]!;
        Assert.NotEqual(userId, otherUser["id"]!.GetValue<string>());
        Assert.Null(otherUser["email"]);
    }

    [Fact]
    public async Task A_suspended_account_cannot_sign_in_through_its_provider()
    {
        var subject = NewSubject();
        var first = await (await SignInAsync(provider.IdToken(ClientId, subject, Now))).ReadJsonAsync();
        var admin = server.NewClient((await server.LoginAdminAsync()).Access);
        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsJsonAsync($"api/users/{first["user"]!["id"]!.GetValue<string>()}/suspend", new { reason = "test" })).StatusCode);

        await (await SignInAsync(provider.IdToken(ClientId, subject, Now))).AssertProblemAsync(HttpStatusCode.Forbidden, "account_suspended");
    }
}

public sealed class SqliteFederationTests() : FederationTests(TestStore.Sqlite);

public sealed class TablesFederationTests() : FederationTests(TestStore.Tables);
