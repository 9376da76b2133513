using System.Collections.Concurrent;
using IronAuth.Core.Configuration;
using IronAuth.Core.Signing;
using IronAuth.Core.Users;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace IronAuth.Core.Sessions;

public sealed record IssuedAccessToken(string Token, string Jti, DateTimeOffset ExpiresAt);

/// <summary>
/// The claims IronAuth relies on from a valid access token. <see cref="SessionId"/> is null for a client-credentials
/// token, whose client (<see cref="ClientId"/>) is an API token.
/// </summary>
public sealed record AccessTokenClaims(
    string UserId, string? SessionId, string Jti, string ClientId, string Scope, DateTimeOffset IssuedAt, DateTimeOffset ExpiresAt);

/// <summary>
/// Issues and validates access JWTs (RFC 9068 <c>at+jwt</c>): iss, aud, sub, iat, nbf, exp, jti, client_id,
/// scope, sid, role and preferred_username, signed with the asymmetric key from <see cref="SigningKeys"/> under its kid.
/// </summary>
public sealed class AccessTokens(SigningKeys keys, IOptions<IronAuthOptions> options, TimeProvider time)
{
    public const string TokenType = "at+jwt";

    private readonly JsonWebTokenHandler handler = new() { SetDefaultTimesOnTokenCreation = false, MapInboundClaims = false };
    private readonly JwtOptions jwt = options.Value.Jwt;
    private const int MaxValidated = 10_000;
    private readonly ConcurrentDictionary<string, (AccessTokenClaims Claims, DateTimeOffset Until)> validated = new(StringComparer.Ordinal);
    private ValidationFor? parameters;

    /// <summary>The <c>client_id</c> of tokens issued to people signing in (RFC 9068 §2.2 requires one in every token).</summary>
    public const string FirstPartyClientId = "ironauth";

    /// <summary>An access token for a signed-in person's session, carrying the permissions of the user's role.</summary>
    public Task<IssuedAccessToken> IssueAsync(User user, string sessionId) =>
        IssueAsync(user, sessionId, FirstPartyClientId, Permissions.Of(user.Role), notAfter: null);

    /// <summary>
    /// An access token (RFC 9068): <c>sub</c> the user, <c>client_id</c> the client it was issued to, <c>scope</c> the
    /// permissions it grants, <c>sid</c> and <c>role</c> when it belongs to a session (client-credentials tokens have
    /// neither), and an expiry no later than <paramref name="notAfter"/>.
    /// </summary>
    public async Task<IssuedAccessToken> IssueAsync(
        User user, string? sessionId, string clientId, IEnumerable<string> scopes, DateTimeOffset? notAfter)
    {
        var material = (await keys.GetSetAsync()).Active;
        var now = time.GetUtcNow();
        // JWT dates have whole-second resolution; truncating keeps exp exactly iat + lifetime.
        now = DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds());
        var expires = now + jwt.AccessTokenLifetime;
        if (notAfter is { } limit && limit < expires)
        {
            expires = DateTimeOffset.FromUnixTimeSeconds(limit.ToUnixTimeSeconds());
        }

        var jti = Ids.NewSecret(16);
        var claims = new Dictionary<string, object>
        {
            [JwtRegisteredClaimNames.Sub] = user.Id,
            [JwtRegisteredClaimNames.Jti] = jti,
            ["client_id"] = clientId,
            ["scope"] = string.Join(' ', scopes.Order(StringComparer.Ordinal)),
            [JwtRegisteredClaimNames.PreferredUsername] = user.Username,
        };
        if (sessionId is not null)
        {
            claims[JwtRegisteredClaimNames.Sid] = sessionId;
            // Only a person's session acts with the whole role. A client-credentials token acts within its client's
            // scopes, so a role claim there would let a service that authorizes by role grant more than the scopes do.
            claims["role"] = user.Role.ToWire();
        }

        var token = handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = jwt.Issuer,
            Audience = jwt.Audience,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = expires.UtcDateTime,
            TokenType = TokenType,
            SigningCredentials = material.Credentials,
            Claims = claims,
        });
        return new IssuedAccessToken(token, jti, expires);
    }

    /// <summary>
    /// Validates signature, algorithm, type, issuer, audience, lifetime and that no critical header extension is
    /// named; null when any fails. A token that
    /// validated is remembered (by its exact text) until it expires, so a client presenting the same token again
    /// skips the signature check, which is most of the cost of a JWT-authenticated request. Session and user
    /// state are checked by the caller on every request regardless.
    /// </summary>
    public ValueTask<AccessTokenClaims?> ValidateAsync(string token) => ValidateAsync(token.AsMemory());

    /// <summary>
    /// As <see cref="ValidateAsync(string)"/>, for a token that is part of a longer text (the Authorization header):
    /// a remembered token is found without copying it out.
    /// </summary>
    public ValueTask<AccessTokenClaims?> ValidateAsync(ReadOnlyMemory<char> token)
    {
        var remembered = validated.GetAlternateLookup<ReadOnlySpan<char>>();
        if (remembered.TryGetValue(token.Span, out var hit))
        {
            if (hit.Until > time.GetUtcNow())
            {
                return ValueTask.FromResult<AccessTokenClaims?>(hit.Claims);
            }

            remembered.TryRemove(token.Span, out _);
        }

        return ValidateSignedAsync(token.ToString());
    }

    private async ValueTask<AccessTokenClaims?> ValidateSignedAsync(string token)
    {
        var result = await handler.ValidateTokenAsync(token, await ParametersAsync(await keys.GetSetAsync()));
        if (result.Exception is SecurityTokenSignatureKeyNotFoundException && TryReadKid(token) is { } kid
            && await keys.FindAsync(kid) is not null)
        {
            // A key this instance had not seen yet: rotated in by another instance since this one last read the store.
            result = await handler.ValidateTokenAsync(token, await ParametersAsync(await keys.GetSetAsync()));
        }

        if (!result.IsValid || result.SecurityToken is not JsonWebToken parsed
            // RFC 7515 §4.1.11: an extension listed in "crit" that the recipient does not understand makes the JWS
            // invalid. IronAuth understands none (and never issues one), so any "crit" is refused.
            || parsed.TryGetHeaderValue<object>("crit", out _)
            || !Ids.IsWellFormed(parsed.Subject)
            || (parsed.TryGetPayloadValue<string>(JwtRegisteredClaimNames.Sid, out var sid) && !Ids.IsWellFormed(sid)))
        {
            return null;
        }

        // Tokens issued before client_id and scope were added (still valid for minutes after an upgrade) lack them.
        var clientId = parsed.TryGetPayloadValue<string>("client_id", out var client) ? client : FirstPartyClientId;
        var scope = parsed.TryGetPayloadValue<string>("scope", out var granted) ? granted : "";
        var claims = new AccessTokenClaims(
            parsed.Subject, sid, parsed.Id, clientId, scope,
            new DateTimeOffset(parsed.IssuedAt, TimeSpan.Zero), new DateTimeOffset(parsed.ValidTo, TimeSpan.Zero));
        if (validated.Count >= MaxValidated)
        {
            validated.Clear();
        }

        validated[token] = (claims, new DateTimeOffset(parsed.ValidTo, TimeSpan.Zero) + jwt.ClockSkew);
        return claims;
    }

    /// <summary>Validation parameters for one key set, built once per set (the set changes only when the keys do).</summary>
    private ValueTask<TokenValidationParameters> ParametersAsync(SigningKeySet set)
    {
        if (Volatile.Read(ref parameters) is { } cached && ReferenceEquals(cached.Set, set))
        {
            return ValueTask.FromResult(cached.Parameters);
        }

        var created = new TokenValidationParameters
        {
            ValidIssuer = jwt.Issuer,
            ValidAudience = jwt.Audience,
            // Every published key — the active one and the passive ones that may have signed an unexpired token — is
            // chosen by the token's kid, so a rotation logs nobody out.
            IssuerSigningKeys = [.. set.Published.Select(k => k.PublicKey)],
            TryAllIssuerSigningKeys = false,
            // Only the published keys' asymmetric algorithms: no "none", no HS256 keyed with a public key; and the
            // key named by kid must itself take the token's alg (an RSA key cannot verify ES256).
            ValidAlgorithms = set.Algorithms,
            ValidTypes = [TokenType],
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateIssuerSigningKey = true,
            LifetimeValidator = ValidateLifetime,
        };
        Volatile.Write(ref parameters, new ValidationFor(set, created));
        return ValueTask.FromResult(created);
    }

    private sealed record ValidationFor(SigningKeySet Set, TokenValidationParameters Parameters);

    private static string? TryReadKid(string token)
    {
        try
        {
            return new JsonWebToken(token).Kid;
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    private bool ValidateLifetime(DateTime? notBefore, DateTime? expires, SecurityToken token, TokenValidationParameters parameters)
    {
        var now = time.GetUtcNow().UtcDateTime;
        return expires is { } exp && now < exp + jwt.ClockSkew && (notBefore is not { } nbf || now >= nbf - jwt.ClockSkew);
    }
}
