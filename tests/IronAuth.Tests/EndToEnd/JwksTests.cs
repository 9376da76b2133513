using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using IronAuth.Core.Signing;
using IronAuth.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace IronAuth.Tests.EndToEnd;

/// <summary>What a downstream service does: verify IronAuth's access tokens with the JWKS document alone.</summary>
public abstract class JwksTests(string store)
{
    private static async Task<(TokenValidationParameters Parameters, JsonWebKeySet Jwks, string Json)> DownstreamAsync(TestServer server)
    {
        var json = await server.Client.GetStringAsync("api/auth/jwks.json");
        var jwks = new JsonWebKeySet(json);
        return (new TokenValidationParameters
        {
            ValidIssuer = server.Issuer,
            ValidAudience = "ironauth",
            IssuerSigningKeys = jwks.GetSigningKeys(),
            // The fake clock is ahead of or behind the machine clock; lifetime is checked against it.
            LifetimeValidator = (nbf, exp, _, _) => exp > server.Time.GetUtcNow().UtcDateTime && nbf <= server.Time.GetUtcNow().UtcDateTime,
        }, jwks, json);
    }

    [Theory]
    [InlineData("RS256", "RSA")]
    [InlineData("ES256", "EC")]
    public async Task Access_token_validates_with_the_jwks_document_alone(string algorithm, string keyType)
    {
        await using var server = await TestServer.StartAsync(store, new Dictionary<string, string?> { ["IronAuth:Jwt:Algorithm"] = algorithm });
        var tokens = await server.LoginAdminAsync();
        var (parameters, jwks, json) = await DownstreamAsync(server);

        var result = await new JsonWebTokenHandler().ValidateTokenAsync(tokens.Access, parameters);

        Assert.True(result.IsValid, result.Exception?.Message);
        var key = Assert.Single(jwks.Keys);
        Assert.Equal(keyType, key.Kty);
        Assert.Equal(algorithm, key.Alg);
        Assert.Equal("sig", key.Use);
        Assert.DoesNotContain("\"d\"", json, StringComparison.Ordinal);
        var jwt = (JsonWebToken)result.SecurityToken;
        Assert.Equal(key.Kid, jwt.Kid);
        Assert.Equal(algorithm, jwt.Alg);
        Assert.Equal(tokens.UserId, jwt.Subject);
        foreach (var claim in new[] { "iss", "aud", "sub", "iat", "nbf", "exp", "jti", "sid", "role" })
        {
            Assert.True(jwt.TryGetPayloadValue<object>(claim, out _), $"missing claim {claim}");
        }

        Assert.Equal("admin", jwt.GetPayloadValue<string>("role"));
    }

    [Fact]
    public async Task Tokens_signed_otherwise_are_rejected()
    {
        await using var server = await TestServer.StartAsync(store);
        var tokens = await server.LoginAdminAsync();
        var (parameters, jwks, _) = await DownstreamAsync(server);
        var original = new JsonWebToken(tokens.Access);
        var payload = Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(original.EncodedPayload));
        var handler = new JsonWebTokenHandler();

        // 1. The right claims and kid, signed with another RSA key.
        using var otherRsa = RSA.Create(2048);
        var forged = handler.CreateToken(payload, new SigningCredentials(new RsaSecurityKey(otherRsa) { KeyId = original.Kid }, SecurityAlgorithms.RsaSha256));

        // 2. alg: none.
        var header = Base64UrlEncoder.Encode("""{"alg":"none","typ":"at+jwt"}""");
        var unsigned = $"{header}.{original.EncodedPayload}.";

        // 3. HS256 keyed with the public key's bytes (the classic algorithm-confusion attack).
        var publicJwk = jwks.Keys[0];
        var publicBytes = Encoding.UTF8.GetBytes(publicJwk.N + publicJwk.E);
        var confused = handler.CreateToken(payload, new SigningCredentials(new SymmetricSecurityKey(publicBytes) { KeyId = original.Kid }, SecurityAlgorithms.HmacSha256));
        var pemConfused = handler.CreateToken(payload, new SigningCredentials(
            new SymmetricSecurityKey(Encoding.UTF8.GetBytes(JsonExtensions.ToJsonString(publicJwk))) { KeyId = original.Kid }, SecurityAlgorithms.HmacSha256));

        foreach (var bad in new[] { forged, unsigned, confused, pemConfused })
        {
            Assert.False((await handler.ValidateTokenAsync(bad, parameters)).IsValid);
            var response = await server.NewClient(bad).GetAsync("api/auth/me");
            await response.AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_token");
        }

        // The genuine token passes both checks, so the rejections above are about the signature.
        Assert.True((await handler.ValidateTokenAsync(tokens.Access, parameters)).IsValid);
        Assert.Equal(HttpStatusCode.OK, (await server.NewClient(tokens.Access).GetAsync("api/auth/me")).StatusCode);
    }

    [Fact]
    public async Task A_token_that_names_a_critical_extension_is_rejected_even_with_a_good_signature()
    {
        // RFC 7515 §4.1.11: a recipient that does not understand an extension listed in "crit" must reject the JWS.
        // IronAuth understands none, so any "crit" header is refused, however well signed.
        await using var server = await TestServer.StartAsync(store);
        var tokens = await server.LoginAdminAsync();
        var original = new JsonWebToken(tokens.Access);
        var payload = Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(original.EncodedPayload));
        var credentials = (await server.Services.GetRequiredService<SigningKeys>().GetAsync()).Credentials;
        var handler = new JsonWebTokenHandler();
        string Sign(Dictionary<string, object> header) => handler.CreateToken(payload, credentials, header);

        var critical = Sign(new() { ["typ"] = "at+jwt", ["crit"] = new[] { "urn:example:must-understand" }, ["urn:example:must-understand"] = true });
        var plain = Sign(new() { ["typ"] = "at+jwt" });

        Assert.Contains("\"crit\"", Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(critical.Split('.')[0])), StringComparison.Ordinal);
        await (await server.NewClient(critical).GetAsync("api/auth/me")).AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_token");
        // The same token re-signed without "crit" passes, so the refusal above is about the header alone.
        Assert.Equal(HttpStatusCode.OK, (await server.NewClient(plain).GetAsync("api/auth/me")).StatusCode);
    }

    [Fact]
    public async Task Concurrent_first_starts_on_one_store_agree_on_one_signing_key()
    {
        using var shared = await TestStore.CreateAsync(store);

        // No configured key (null unsets the test server's shared one): each server generates one, one insert wins.
        var noKey = new Dictionary<string, string?> { ["IronAuth:Jwt:SigningKey"] = null };
        var servers = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => TestServer.StartAsync(shared, noKey)));
        try
        {
            var kids = await Task.WhenAll(servers.Select(async s =>
                JsonNode.Parse(await s.Client.GetStringAsync("api/auth/jwks.json"))!["keys"]![0]!["kid"]!.GetValue<string>()));
            Assert.Single(kids.Distinct());
        }
        finally
        {
            foreach (var s in servers)
            {
                await s.DisposeAsync();
            }
        }
    }
}

public sealed class SqliteJwksTests() : JwksTests(TestStore.Sqlite);

public sealed class TablesJwksTests() : JwksTests(TestStore.Tables);

internal static class JsonExtensions
{
    public static string ToJsonString(JsonWebKey key) => System.Text.Json.JsonSerializer.Serialize(new { key.Kty, key.N, key.E });
}
