using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Duende.IdentityModel.Client;
using IronAuth.Tests.Support;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.JsonWebTokens;

namespace IronAuth.Tests.EndToEnd;

/// <summary>
/// IronAuth as other software meets it: standard clients (Duende.IdentityModel) and a resource server configured with
/// JwtBearer's Authority and Audience, with no custom code on their side.
/// </summary>
public abstract class OAuthTests(string store) : IAsyncLifetime
{
    private TestServer server = null!;

    public async Task InitializeAsync() =>
        // A resource server checks lifetimes against the machine's clock, so this server's clock starts there.
        server = await TestServer.StartAsync(store, new Dictionary<string, string?> { ["IronAuth:Tokens:MaxLifetimeDays"] = "90" }, new FakeTimeProvider(DateTimeOffset.UtcNow));

    public async Task DisposeAsync() => await server.DisposeAsync();

    private async Task<DiscoveryDocumentResponse> DiscoverAsync()
    {
        var discovery = await server.Client.GetDiscoveryDocumentAsync(server.Issuer);
        Assert.False(discovery.IsError, discovery.Error);
        return discovery;
    }

    /// <summary>The bootstrap admin signs in through the password grant, as a first-party public client (no client_id).</summary>
    private Task<TokenResponse> AdminPasswordGrantAsync(string tokenEndpoint) =>
        server.Client.RequestPasswordTokenAsync(new PasswordTokenRequest
        {
            Address = tokenEndpoint,
            UserName = server.AdminUsername,
            Password = TestServer.AdminPassword,
        });

    private async Task<(string Token, string Id)> CreateApiTokenAsync(object request)
    {
        var admin = server.NewClient((await server.LoginAdminAsync()).Access);
        var response = await admin.PostAsJsonAsync("api/tokens", request);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await response.ReadJsonAsync();
        return (body["token"]!.GetValue<string>(), body["metadata"]!["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task Discovery_names_the_issuer_its_tokens_carry_and_every_endpoint_under_it()
    {
        var discovery = await DiscoverAsync();

        Assert.Equal(server.Issuer, discovery.Issuer);
        Assert.Equal($"{server.Issuer}/oauth/token", discovery.TokenEndpoint);
        Assert.Equal($"{server.Issuer}/auth/jwks.json", discovery.JwksUri);
        Assert.Equal($"{server.Issuer}/oauth/introspect", discovery.IntrospectionEndpoint);
        Assert.Equal($"{server.Issuer}/oauth/revoke", discovery.RevocationEndpoint);
        Assert.Equal(["client_credentials", "password", "refresh_token"], discovery.GrantTypesSupported.Order());
        Assert.Contains("client_secret_basic", discovery.TokenEndpointAuthenticationMethodsSupported);
        Assert.Contains("tokens:verify", discovery.ScopesSupported);
        Assert.Single(discovery.KeySet!.Keys);
        // RFC 8414 §3's location for an issuer with a path: the well-known name first, then the path.
        var rfc8414 = await server.Client.GetStringAsync($"{new Uri(server.Issuer).GetLeftPart(UriPartial.Authority)}/.well-known/oauth-authorization-server/api");
        Assert.Equal(server.Issuer, JsonNode.Parse(rfc8414)!["issuer"]!.GetValue<string>());

        var password = await server.Client.RequestPasswordTokenAsync(new PasswordTokenRequest
        {
            Address = discovery.TokenEndpoint,
            ClientId = "ironauth",
            UserName = server.AdminUsername,
            Password = TestServer.AdminPassword,
        });
        Assert.False(password.IsError, password.Error);
        Assert.Equal(discovery.Issuer, new JsonWebToken(password.AccessToken).Issuer);
    }

    [Fact]
    public async Task A_resource_server_with_only_authority_and_audience_accepts_password_and_client_credentials_tokens()
    {
        var discovery = await DiscoverAsync();
        var (apiToken, apiTokenId) = await CreateApiTokenAsync(new { name = "service", scopes = new[] { "users:read" } });
        var password = await AdminPasswordGrantAsync(discovery.TokenEndpoint!);
        var client = await server.Client.RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest
        {
            Address = discovery.TokenEndpoint,
            ClientId = apiTokenId,
            ClientSecret = apiToken,
        });
        Assert.False(password.IsError, password.Error);
        Assert.False(client.IsError, client.Error);

        await using var resource = await ResourceServer.StartAsync(server.Issuer);

        var asPerson = await resource.Client(password.AccessToken!).GetStringAsync("whoami");
        var asService = await resource.Client(client.AccessToken!).GetStringAsync("whoami");
        Assert.Contains("client_id=ironauth", asPerson, StringComparison.Ordinal);
        Assert.Contains($"client_id={apiTokenId}", asService, StringComparison.Ordinal);
        Assert.Contains("scope=users:read\n", asService, StringComparison.Ordinal);
        // A token signed by someone else is refused, so the two above passed on their signatures.
        var forged = password.AccessToken![..^4] + (password.AccessToken.EndsWith("AAAA", StringComparison.Ordinal) ? "BBBB" : "AAAA");
        Assert.Equal(HttpStatusCode.Unauthorized, (await resource.Client(forged).GetAsync("whoami")).StatusCode);
    }

    [Fact]
    public async Task Access_tokens_carry_the_rfc_9068_claims()
    {
        var login = await server.LoginAdminAsync();
        var jwt = new JsonWebToken(login.Access);

        Assert.Equal("at+jwt", jwt.Typ);
        Assert.Equal("ironauth", jwt.GetPayloadValue<string>("client_id"));
        Assert.Equal("audit:read budgets:read budgets:write tokens:read tokens:verify tokens:write users:read users:write", jwt.GetPayloadValue<string>("scope"));
        foreach (var claim in new[] { "iss", "exp", "aud", "sub", "iat", "jti", "sid", "role", "preferred_username" })
        {
            Assert.True(jwt.TryGetPayloadValue<object>(claim, out _), $"missing {claim}");
        }
    }

    [Fact]
    public async Task Client_credentials_act_for_the_owner_within_the_tokens_scopes_and_lifetime_and_count_as_a_use()
    {
        var (apiToken, apiTokenId) = await CreateApiTokenAsync(new { name = "service", scopes = new[] { "users:read", "tokens:read" }, expires_in_days = 1 });
        server.Time.Advance(TimeSpan.FromHours(23.9));

        var response = await server.Client.RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest
        {
            Address = $"{server.Issuer}/oauth/token",
            ClientId = apiTokenId,
            ClientSecret = apiToken,
            ClientCredentialStyle = ClientCredentialStyle.PostBody,
            Scope = "users:read",
        });

        Assert.False(response.IsError, response.Error);
        Assert.Equal("users:read", response.Scope);
        Assert.Null(response.RefreshToken);
        var jwt = new JsonWebToken(response.AccessToken);
        Assert.Equal(apiTokenId, jwt.GetPayloadValue<string>("client_id"));
        Assert.False(jwt.TryGetPayloadValue<string>("sid", out _));
        // No role: a service authorizing by role would otherwise grant the owner's whole role to a narrowed client.
        Assert.False(jwt.TryGetPayloadValue<string>("role", out _));
        var owner = (await (await server.NewClient(apiToken).GetAsync("api/auth/me")).ReadJsonAsync())["user"]!["id"]!.GetValue<string>();
        Assert.Equal(owner, jwt.Subject);
        // The API token expires in 0.1 h, sooner than an access token's 15 minutes.
        Assert.InRange(response.ExpiresIn, 300, 360);
        Assert.True(jwt.ValidTo <= server.Time.GetUtcNow().AddHours(0.11).UtcDateTime);

        var admin = server.NewClient((await server.LoginAdminAsync()).Access);
        var usage = await (await admin.GetAsync($"api/tokens/{apiTokenId}/usage?days=1")).ReadJsonAsync();
        // The grant and the /auth/me call above: two uses.
        Assert.Equal(2, usage.AsArray()[0]!["requests"]!.GetValue<long>());
    }

    [Fact]
    public async Task Refresh_through_the_token_endpoint_rotates_and_reuse_ends_the_session()
    {
        var endpoint = $"{server.Issuer}/oauth/token";
        var first = await AdminPasswordGrantAsync(endpoint);
        var second = await server.Client.RequestRefreshTokenAsync(new RefreshTokenRequest { Address = endpoint, RefreshToken = first.RefreshToken! });
        Assert.False(second.IsError, second.Error);
        Assert.True(second.HttpResponse!.Headers.CacheControl?.NoStore);
        Assert.Equal("no-cache", second.HttpResponse.Headers.Pragma.Single().Name);
        Assert.NotEqual(first.RefreshToken, second.RefreshToken);
        Assert.Equal(HttpStatusCode.OK, (await server.NewClient(second.AccessToken).GetAsync("api/auth/me")).StatusCode);

        var reused = await server.Client.RequestRefreshTokenAsync(new RefreshTokenRequest { Address = endpoint, RefreshToken = first.RefreshToken! });

        Assert.Equal(HttpStatusCode.BadRequest, reused.HttpStatusCode);
        Assert.Equal("invalid_grant", reused.Error);
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.NewClient(second.AccessToken).GetAsync("api/auth/me")).StatusCode);
        var after = await server.Client.RequestRefreshTokenAsync(new RefreshTokenRequest { Address = endpoint, RefreshToken = second.RefreshToken! });
        Assert.Equal("invalid_grant", after.Error);
    }

    [Fact]
    public async Task The_token_endpoint_answers_each_rfc_6749_error()
    {
        var (apiToken, apiTokenId) = await CreateApiTokenAsync(new { name = "client", scopes = new[] { "users:read" }, limits = new { requests_per_second = 1, burst = 1 } });
        async Task<(HttpResponseMessage Response, JsonNode Body)> PostAsync(IEnumerable<KeyValuePair<string, string>> form, AuthenticationHeaderValue? authorization = null)
        {
            using var message = new HttpRequestMessage(HttpMethod.Post, "api/oauth/token") { Content = new FormUrlEncodedContent(form) };
            message.Headers.Authorization = authorization;
            var response = await server.Client.SendAsync(message);
            return (response, (await response.ReadJsonAsync()));
        }

        static KeyValuePair<string, string> P(string name, string value) => new(name, value);
        var basic = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{apiTokenId}:{apiToken}")));
        var wrongSecret = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{apiTokenId}:iron_wrong")));

        var cases = new (string Name, Task<(HttpResponseMessage Response, JsonNode Body)> Call, HttpStatusCode Status, string Error)[]
        {
            ("no grant_type", PostAsync([P("username", "x")]), HttpStatusCode.BadRequest, "invalid_request"),
            ("unknown grant", PostAsync([P("grant_type", "authorization_code"), P("code", "x")]), HttpStatusCode.BadRequest, "unsupported_grant_type"),
            ("repeated parameter", PostAsync([P("grant_type", "password"), P("grant_type", "password")]), HttpStatusCode.BadRequest, "invalid_request"),
            ("missing password", PostAsync([P("grant_type", "password"), P("username", server.AdminUsername)]), HttpStatusCode.BadRequest, "invalid_request"),
            ("wrong password", PostAsync([P("grant_type", "password"), P("username", server.AdminUsername), P("password", "wrong-password-1")]), HttpStatusCode.BadRequest, "invalid_grant"),
            ("unknown scope", PostAsync([P("grant_type", "password"), P("username", server.AdminUsername), P("password", TestServer.AdminPassword), P("scope", "root")]), HttpStatusCode.BadRequest, "invalid_scope"),
            ("unknown refresh token", PostAsync([P("grant_type", "refresh_token"), P("refresh_token", "nope")]), HttpStatusCode.BadRequest, "invalid_grant"),
            ("no client", PostAsync([P("grant_type", "client_credentials")]), HttpStatusCode.Unauthorized, "invalid_client"),
            ("wrong secret", PostAsync([P("grant_type", "client_credentials")], wrongSecret), HttpStatusCode.Unauthorized, "invalid_client"),
            ("two client methods", PostAsync([P("grant_type", "client_credentials"), P("client_secret", apiToken)], basic), HttpStatusCode.BadRequest, "invalid_request"),
            ("scope beyond the token", PostAsync([P("grant_type", "client_credentials"), P("scope", "tokens:write")], basic), HttpStatusCode.BadRequest, "invalid_scope"),
        };

        foreach (var (name, call, status, expected) in cases)
        {
            var (response, body) = await call;
            Assert.True(response.StatusCode == status, $"{name}: {response.StatusCode} {body}");
            Assert.Equal(expected, body["error"]!.GetValue<string>());
            Assert.False(string.IsNullOrEmpty(body["error_description"]?.GetValue<string>()), name);
            Assert.True(response.Headers.CacheControl?.NoStore, name);
            Assert.Equal("no-cache", response.Headers.Pragma.Single().Name);
            if (status == HttpStatusCode.Unauthorized)
            {
                Assert.Equal("Basic", response.Headers.WwwAuthenticate.Single().Scheme);
            }
        }

        // Too large, whether announced by Content-Length or sent in chunks.
        var padding = new string('x', 20_000);
        var announced = await server.Client.PostAsync("api/oauth/token", new FormUrlEncodedContent([P("grant_type", "password"), P("username", padding)]));
        var chunkedContent = new StringContent($"grant_type=password&username={padding}", Encoding.UTF8, "application/x-www-form-urlencoded");
        chunkedContent.Headers.ContentLength = null;
        using var chunked = new HttpRequestMessage(HttpMethod.Post, "api/oauth/token") { Content = chunkedContent };
        chunked.Headers.TransferEncodingChunked = true;
        foreach (var tooLarge in new[] { announced, await server.Client.SendAsync(chunked) })
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);
            Assert.Equal("invalid_request", (await tooLarge.ReadJsonAsync())["error"]!.GetValue<string>());
        }

        // JSON is not what RFC 6749 speaks.
        var json = await server.Client.PostAsJsonAsync("api/oauth/token", new { grant_type = "password" });
        await json.AssertProblemAsync(HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");

        // The bucket (burst 1) was spent by "scope beyond the token": the next grant is throttled with Retry-After.
        var (throttled, throttledBody) = await PostAsync([P("grant_type", "client_credentials")], basic);
        Assert.Equal(HttpStatusCode.TooManyRequests, throttled.StatusCode);
        Assert.Equal("rate_limited", throttledBody["error"]!.GetValue<string>());
        Assert.NotNull(throttled.Headers.RetryAfter);
    }

    [Fact]
    public async Task Introspection_reports_each_kind_of_token_and_inactive_once_the_session_is_revoked()
    {
        var discovery = await DiscoverAsync();
        var (gateway, gatewayId) = await CreateApiTokenAsync(new { name = "gateway", scopes = new[] { "tokens:verify" } });
        var (service, serviceId) = await CreateApiTokenAsync(new { name = "service", scopes = new[] { "users:read" } });
        var person = await AdminPasswordGrantAsync(discovery.TokenEndpoint!);
        var client = await server.Client.RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest
        {
            Address = discovery.TokenEndpoint,
            ClientId = serviceId,
            ClientSecret = service,
        });
        Task<TokenIntrospectionResponse> IntrospectAsync(string token) => server.Client.IntrospectTokenAsync(new TokenIntrospectionRequest
        {
            Address = discovery.IntrospectionEndpoint,
            ClientId = gatewayId,
            ClientSecret = gateway,
            Token = token,
        });
        async Task<long> UsesOfServiceAsync()
        {
            var admin = server.NewClient((await server.LoginAdminAsync()).Access);
            return (await (await admin.GetAsync($"api/tokens/{serviceId}/usage?days=1")).ReadJsonAsync()).AsArray()[0]!["requests"]!.GetValue<long>();
        }

        var usesBefore = await UsesOfServiceAsync();
        var access = await IntrospectAsync(person.AccessToken!);
        var refresh = await IntrospectAsync(person.RefreshToken!);
        var apiToken = await IntrospectAsync(service);
        var clientToken = await IntrospectAsync(client.AccessToken!);

        Assert.True(access.IsActive, access.Error ?? access.Raw);
        Assert.Equal("ironauth", access.Claims.Single(c => c.Type == "client_id").Value);
        Assert.Equal(new JsonWebToken(person.AccessToken).Subject, access.Claims.Single(c => c.Type == "sub").Value);
        Assert.Equal(server.AdminUsername, access.Claims.Single(c => c.Type == "username").Value);
        Assert.True(refresh.IsActive, refresh.Raw);
        Assert.True(apiToken.IsActive, apiToken.Raw);
        Assert.Equal(serviceId, apiToken.Claims.Single(c => c.Type == "client_id").Value);
        Assert.Contains(apiToken.Scopes, s => s == "users:read");
        Assert.True(clientToken.IsActive, clientToken.Raw);
        // Looking at an API token does not spend its bucket or count as its use.
        Assert.Equal(usesBefore, await UsesOfServiceAsync());

        var revoked = await server.Client.RevokeTokenAsync(new TokenRevocationRequest
        {
            Address = discovery.RevocationEndpoint,
            ClientId = "ironauth",
            Token = person.RefreshToken!,
            TokenTypeHint = "refresh_token",
        });
        Assert.False(revoked.IsError, revoked.Error);

        foreach (var token in new[] { person.AccessToken!, person.RefreshToken!, "not-a-token", "iron_" + new string('a', 49) })
        {
            var after = await IntrospectAsync(token);
            Assert.False(after.IsError, after.Error);
            Assert.False(after.IsActive, token);
            Assert.Equal("""{"active":false}""", after.Raw);
        }

        await using var resource = await ResourceServer.StartAsync(server.Issuer);
        // An offline verifier still takes the signed token until it expires; introspection is how to ask for the state.
        Assert.Equal(HttpStatusCode.OK, (await resource.Client(person.AccessToken!).GetAsync("whoami")).StatusCode);
    }

    [Fact]
    public async Task Introspection_narrows_a_tokens_scope_to_what_its_user_may_do_now()
    {
        var (gateway, gatewayId) = await CreateApiTokenAsync(new { name = "gateway", scopes = new[] { "tokens:verify" } });
        var (_, _, demoted) = await server.CreateUserAsync("admin");
        var admin = server.NewClient((await server.LoginAdminAsync()).Access);
        Task<TokenIntrospectionResponse> IntrospectAsync() => server.Client.IntrospectTokenAsync(new TokenIntrospectionRequest
        {
            Address = $"{server.Issuer}/oauth/introspect",
            ClientId = gatewayId,
            ClientSecret = gateway,
            Token = demoted.Access,
        });
        Assert.Contains("tokens:verify", (await IntrospectAsync()).Scopes);

        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"api/users/{demoted.UserId}/role", new { role = "viewer" })).StatusCode);

        var after = await IntrospectAsync();
        Assert.True(after.IsActive, after.Raw);
        Assert.Equal(["audit:read", "budgets:read", "tokens:read", "users:read", "users:write"], after.Scopes.Order(StringComparer.Ordinal));
        // The signed token still says what it was issued with; introspection says what it may do.
        Assert.Contains("tokens:verify", new JsonWebToken(demoted.Access).GetPayloadValue<string>("scope"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Introspection_needs_tokens_verify_and_revocation_of_an_api_token_needs_its_owners_or_an_admins_client()
    {
        var (adminToken, adminTokenId) = await CreateApiTokenAsync(new { name = "admin" });
        var owner = server.NewClient((await server.CreateUserAsync("user")).Tokens.Access);
        var created = await (await owner.PostAsJsonAsync("api/tokens", new { name = "mine" })).ReadJsonAsync();
        var (own, ownId) = (created["token"]!.GetValue<string>(), created["metadata"]!["id"]!.GetValue<string>());
        var stranger = server.NewClient((await server.CreateUserAsync("user")).Tokens.Access);
        var strangers = await (await stranger.PostAsJsonAsync("api/tokens", new { name = "theirs" })).ReadJsonAsync();
        var (strangersToken, strangersId) = (strangers["token"]!.GetValue<string>(), strangers["metadata"]!["id"]!.GetValue<string>());
        var endpoint = $"{server.Issuer}/oauth/revoke";

        var noCaller = await server.Client.IntrospectTokenAsync(new TokenIntrospectionRequest { Address = $"{server.Issuer}/oauth/introspect", Token = own });
        var userCaller = await server.Client.IntrospectTokenAsync(new TokenIntrospectionRequest
        {
            Address = $"{server.Issuer}/oauth/introspect",
            ClientId = ownId,
            ClientSecret = own,
            Token = own,
        });
        Assert.Equal(HttpStatusCode.Unauthorized, noCaller.HttpStatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, userCaller.HttpStatusCode);
        Assert.Contains("\"insufficient_scope\"", userCaller.Raw, StringComparison.Ordinal);

        var anonymous = await server.Client.RevokeTokenAsync(new TokenRevocationRequest { Address = endpoint, Token = own });
        var byStranger = await server.Client.RevokeTokenAsync(new TokenRevocationRequest { Address = endpoint, ClientId = strangersId, ClientSecret = strangersToken, Token = own });
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.HttpStatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, byStranger.HttpStatusCode);
        Assert.Equal(HttpStatusCode.OK, (await owner.GetAsync("api/auth/me")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.NewClient(own).GetAsync("api/auth/me")).StatusCode);

        var clientToken = await server.Client.RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest
        {
            Address = $"{server.Issuer}/oauth/token",
            ClientId = ownId,
            ClientSecret = own,
        });
        var byItself = await server.Client.RevokeTokenAsync(new TokenRevocationRequest { Address = endpoint, Token = clientToken.AccessToken! });
        Assert.Equal(HttpStatusCode.BadRequest, byItself.HttpStatusCode);
        Assert.Contains("\"unsupported_token_type\"", byItself.Raw, StringComparison.Ordinal);
        // A session's access token ends its session when revoked.
        var session = (await server.CreateUserAsync("user")).Tokens;
        Assert.False((await server.Client.RevokeTokenAsync(new TokenRevocationRequest { Address = endpoint, Token = session.Access })).IsError);
        await (await server.NewClient(session.Access).GetAsync("api/auth/me")).AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_token");
        var refreshAfter = await server.Client.PostAsJsonAsync("api/auth/refresh", new { refresh_token = session.Refresh });
        Assert.Equal(HttpStatusCode.Unauthorized, refreshAfter.StatusCode);

        var byOwner = await server.Client.RevokeTokenAsync(new TokenRevocationRequest { Address = endpoint, ClientId = ownId, ClientSecret = own, Token = own });
        var byAdmin = await server.Client.RevokeTokenAsync(new TokenRevocationRequest { Address = endpoint, ClientId = adminTokenId, ClientSecret = adminToken, Token = strangersToken });
        var unknown = await server.Client.RevokeTokenAsync(new TokenRevocationRequest { Address = endpoint, Token = "whatever" });

        Assert.False(byOwner.IsError, byOwner.Raw);
        Assert.False(byAdmin.IsError, byAdmin.Error);
        Assert.False(unknown.IsError, unknown.Error);
        await (await server.NewClient(own).GetAsync("api/auth/me")).AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_token");
        await (await server.NewClient(strangersToken).GetAsync("api/auth/me")).AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_token");
    }
}

public sealed class SqliteOAuthTests() : OAuthTests(TestStore.Sqlite);

public sealed class TablesOAuthTests() : OAuthTests(TestStore.Tables);
