using System.Collections.Concurrent;
using IronAuth.Core.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace IronAuth.Core.Federation;

/// <summary>What IronAuth takes from a valid ID token.</summary>
public sealed record FederatedIdentity(string Provider, string Subject, string? Email, bool EmailVerified, string? Name);

/// <summary>
/// Validates ID tokens against each provider's discovery document and JWKS (OpenID Connect Core 1.0 §3.1.3.7): the
/// signature by a key the provider publishes (an asymmetric algorithm the key takes; never <c>none</c>), <c>iss</c>
/// equal to the discovery document's issuer, <c>aud</c> containing the provider's ClientId, <c>exp</c> and <c>nbf</c>
/// on IronAuth's clock with the configured skew, and a <c>sub</c>. The discovery document and keys are fetched once
/// per provider and cached for up to 12 hours; a token signed by a kid the cache does not know fetches them again (a
/// provider's key rotation; at most once a minute) and is checked once more.
/// </summary>
public sealed partial class IdTokenValidator(
    IOptions<IronAuthOptions> core, TimeProvider time, ILogger<IdTokenValidator> logger)
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    /// <summary>Discovery and keys are fetched again this long after the last fetch, and on an unknown kid at most this often.</summary>
    private static readonly TimeSpan MaxAge = TimeSpan.FromHours(12);
    private static readonly TimeSpan MinRefreshInterval = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<string, Cached> cache = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> fetching = new(StringComparer.OrdinalIgnoreCase);
    private readonly JsonWebTokenHandler handler = new() { MapInboundClaims = false };

    /// <summary>The identity, or null when the token fails any check (the reason is logged at debug level, never the token).</summary>
    public async Task<FederatedIdentity?> ValidateAsync(string provider, FederationProvider settings, string idToken, CancellationToken cancellationToken)
    {
        if (idToken.Length is 0 or > 16 * 1024)
        {
            return null;
        }

        TokenValidationResult result;
        try
        {
            var configuration = await ConfigurationAsync(provider, settings, stale: null, cancellationToken);
            result = await handler.ValidateTokenAsync(idToken, Parameters(configuration.Value, settings));
            if (result.Exception is SecurityTokenSignatureKeyNotFoundException
                && await ConfigurationAsync(provider, settings, stale: configuration, cancellationToken) is { } refreshed && refreshed != configuration)
            {
                // A kid not in the cached keys: the provider may have rotated. Fetched again at most once a minute, so
                // tokens with made-up kids cannot turn IronAuth into a stream of requests to the provider.
                result = await handler.ValidateTokenAsync(idToken, Parameters(refreshed.Value, settings));
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The discovery document or the keys could not be fetched or read (unreachable, not JSON, an http jwks_uri of an
            // https authority...): the token cannot be checked, so it is not valid. Whatever the provider serves, never a 500.
            LogDiscoveryFailed(logger, provider, e);
            return null;
        }

        if (!result.IsValid || result.SecurityToken is not JsonWebToken token || string.IsNullOrEmpty(token.Subject) || token.Subject.Length > 255)
        {
            LogRejected(logger, provider, result.Exception?.GetType().Name ?? "no_subject");
            return null;
        }

        if (NotAnIdTokenForUs(token, settings.ClientId!) is { } reason)
        {
            LogRejected(logger, provider, reason);
            return null;
        }

        var email = token.TryGetPayloadValue<string>("email", out var e1) ? e1 : null;
        // Providers send email_verified as a JSON boolean; some as the string "true".
        var verified = (token.TryGetPayloadValue<bool>("email_verified", out var b) && b)
            || (token.TryGetPayloadValue<string>("email_verified", out var s) && string.Equals(s, "true", StringComparison.OrdinalIgnoreCase));
        var name = token.TryGetPayloadValue<string>("name", out var n) ? n : null;
        return new FederatedIdentity(provider, token.Subject, email, verified && email is not null, name);
    }

    /// <summary>
    /// Why a validly signed token of the provider, for our audience, is still not an ID token issued to us: an access
    /// token of the provider's (some providers, e.g. Entra ID, sign those with the same keys and issuer, and one for an
    /// API registered under our client id carries our id as its audience) has a <c>scp</c> claim or type <c>at+jwt</c>
    /// (RFC 9068); and OIDC Core §3.1.3.7 wants <c>azp</c> to be our client id when present, and present when the
    /// token has several audiences.
    /// </summary>
    private static string? NotAnIdTokenForUs(JsonWebToken token, string clientId)
    {
        if (token.TryGetPayloadValue<object>("scp", out _) || string.Equals(token.Typ, "at+jwt", StringComparison.OrdinalIgnoreCase)
            || string.Equals(token.Typ, "application/at+jwt", StringComparison.OrdinalIgnoreCase))
        {
            return "access_token";
        }

        var azp = token.TryGetPayloadValue<string>("azp", out var party) ? party : null;
        return azp is not null && azp != clientId ? "azp_mismatch"
            : azp is null && token.Audiences.Skip(1).Any() ? "azp_missing"
            : null;
    }

    private sealed record Cached(OpenIdConnectConfiguration Value, DateTimeOffset FetchedAt);

    /// <summary>
    /// The provider's discovery document with its keys, from the cache unless it is older than <see cref="MaxAge"/>, or
    /// <paramref name="stale"/> is the cached one and was fetched at least <see cref="MinRefreshInterval"/> ago.
    /// </summary>
    private async Task<Cached> ConfigurationAsync(string provider, FederationProvider settings, Cached? stale, CancellationToken cancellationToken)
    {
        bool Fresh(Cached c) =>
            time.GetUtcNow() - c.FetchedAt < MaxAge && (stale is null || c != stale || time.GetUtcNow() - c.FetchedAt < MinRefreshInterval);

        if (cache.TryGetValue(provider, out var cached) && Fresh(cached))
        {
            return cached;
        }

        var gate = fetching.GetOrAdd(provider, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            if (cache.TryGetValue(provider, out cached) && Fresh(cached))
            {
                return cached;
            }

            var authority = settings.EffectiveAuthority(provider);
            var retriever = new HttpDocumentRetriever(Http) { RequireHttps = authority.StartsWith("https://", StringComparison.OrdinalIgnoreCase) };
            var configuration = await OpenIdConnectConfigurationRetriever.GetAsync(authority + "/.well-known/openid-configuration", retriever, cancellationToken);
            var fetched = new Cached(configuration, time.GetUtcNow());
            cache[provider] = fetched;
            return fetched;
        }
        finally
        {
            gate.Release();
        }
    }

    private TokenValidationParameters Parameters(OpenIdConnectConfiguration configuration, FederationProvider settings) => new()
    {
        ValidIssuer = configuration.Issuer,
        ValidAudience = settings.ClientId,
        IssuerSigningKeys = configuration.SigningKeys,
        ValidAlgorithms = [SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512,
            SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384, SecurityAlgorithms.EcdsaSha512,
            SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.RsaSsaPssSha384, SecurityAlgorithms.RsaSsaPssSha512],
        RequireSignedTokens = true,
        RequireExpirationTime = true,
        ValidateIssuerSigningKey = true,
        TryAllIssuerSigningKeys = false,
        LifetimeValidator = ValidateLifetime,
    };

    private bool ValidateLifetime(DateTime? notBefore, DateTime? expires, SecurityToken token, TokenValidationParameters parameters)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var skew = core.Value.Jwt.ClockSkew;
        return expires is { } exp && now < exp + skew && (notBefore is not { } nbf || now >= nbf - skew);
    }

    [LoggerMessage(EventId = 1621, EventName = "IdTokenRejected", Level = LogLevel.Debug, Message = "An ID token from {Provider} was rejected: {Reason}")]
    private static partial void LogRejected(ILogger logger, string provider, string reason);

    [LoggerMessage(EventId = 1622, EventName = "FederationDiscoveryFailed", Level = LogLevel.Warning, Message = "The discovery document or keys of {Provider} could not be fetched")]
    private static partial void LogDiscoveryFailed(ILogger logger, string provider, Exception exception);
}
