using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace IronAuth.Tests.Support;

/// <summary>
/// A local OpenID provider: Kestrel on a free loopback port serving a discovery document and a JWKS, and ID tokens
/// signed with its RSA key (or, for forgeries, with any other key). <see cref="RotateKey"/> replaces the published key.
/// </summary>
internal sealed class OpenIdProvider : IAsyncDisposable
{
    private readonly WebApplication app;
    private volatile RsaSecurityKey key = NewKey();

    private OpenIdProvider(WebApplication app) => this.app = app;

    public string Authority { get; private set; } = "";

    /// <summary>How many times the discovery document was fetched.</summary>
    public int DiscoveryFetches;

    /// <summary>When set, served with 200 in place of the discovery document (an error page, a captive portal).</summary>
    public volatile string? BrokenDiscovery;

    public static async Task<OpenIdProvider> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var provider = new OpenIdProvider(app);
        app.MapGet("/.well-known/openid-configuration", () =>
        {
            Interlocked.Increment(ref provider.DiscoveryFetches);
            if (provider.BrokenDiscovery is { } broken)
            {
                return Results.Text(broken, "text/html");
            }

            return Results.Json(new Dictionary<string, object>
            {
                ["issuer"] = provider.Authority,
                ["jwks_uri"] = provider.Authority + "/jwks",
                ["authorization_endpoint"] = provider.Authority + "/authorize",
                ["response_types_supported"] = new[] { "id_token" },
                ["subject_types_supported"] = new[] { "public" },
                ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
            });
        });
        app.MapGet("/jwks", () =>
        {
            var parameters = provider.key.Rsa.ExportParameters(false);
            return Results.Json(new Dictionary<string, object>
            {
                ["keys"] = new[]
                {
                    new Dictionary<string, string>
                    {
                        ["kty"] = "RSA", ["use"] = "sig", ["alg"] = "RS256", ["kid"] = provider.key.KeyId,
                        ["n"] = Base64UrlEncoder.Encode(parameters.Modulus), ["e"] = Base64UrlEncoder.Encode(parameters.Exponent),
                    },
                },
            });
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        provider.Authority = address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal);
        return provider;
    }

    /// <summary>A key of the provider's kind that it does not publish (or a replacement for the published one).</summary>
    public static RsaSecurityKey NewKey(string? kid = null) => new(RSA.Create(2048)) { KeyId = kid ?? Guid.NewGuid().ToString("N")[..12] };

    public string KeyId => key.KeyId!;

    /// <summary>The provider rotates: a new key with a new kid is the only one published from now on.</summary>
    public void RotateKey() => key = NewKey();

    public string IdToken(
        string audience,
        string subject,
        DateTimeOffset now,
        string? email = null,
        bool emailVerified = true,
        TimeSpan? lifetime = null,
        RsaSecurityKey? signWith = null,
        string? issuer = null,
        DateTimeOffset? notBefore = null,
        IDictionary<string, object>? extraClaims = null,
        string? type = null)
    {
        var claims = new Dictionary<string, object> { ["sub"] = subject, ["name"] = "Federated Person" };
        foreach (var (name, value) in extraClaims ?? new Dictionary<string, object>())
        {
            claims[name] = value;
        }

        if (email is not null)
        {
            claims["email"] = email;
            claims["email_verified"] = emailVerified;
        }

        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer ?? Authority,
            // An "aud" among the extra claims (several audiences) replaces the single one.
            Audience = claims.ContainsKey("aud") ? null : audience,
            IssuedAt = now.UtcDateTime,
            NotBefore = (notBefore ?? now).UtcDateTime,
            Expires = (now + (lifetime ?? TimeSpan.FromMinutes(5))).UtcDateTime,
            Claims = claims,
            SigningCredentials = new SigningCredentials(signWith ?? key, SecurityAlgorithms.RsaSha256),
            TokenType = type,
        });
    }

    public async ValueTask DisposeAsync() => await app.DisposeAsync();
}
