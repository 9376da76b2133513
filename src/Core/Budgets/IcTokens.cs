using System.Collections.Concurrent;
using IronAuth.Core.Configuration;
using IronAuth.Core.Signing;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace IronAuth.Core.Budgets;

/// <summary>The claims of a valid IC token.</summary>
public sealed record IcTokenClaims(string BudgetId, string AgentId, string Jti, IReadOnlySet<string> Permissions, DateTimeOffset ExpiresAt);

/// <summary>An IC token's validation: its claims, or why not (<see cref="BudgetRefusal.UnknownIcToken"/> for anything but expiry).</summary>
public sealed record IcTokenVerdict(IcTokenClaims? Claims, BudgetRefusal Refusal);

/// <summary>
/// IC (Internal Control) tokens: JWTs (RFC 7519) signed with IronAuth's own keys, verifiable offline from the JWKS, that
/// grant nothing but the budget protocol. Explicitly typed <c>ic+jwt</c> (RFC 8725 §3.11) and with an audience of their
/// own (<c>IronAuth:Budgets:IcTokenAudience</c>, RFC 8725 §3.9), so neither an IC token nor an access token (<c>at+jwt</c>)
/// validates as the other: <see cref="Sessions.AccessTokens"/> accepts only <c>at+jwt</c>, and this class only <c>ic+jwt</c>.
/// </summary>
public sealed class IcTokens(SigningKeys keys, IOptions<IronAuthOptions> options, TimeProvider time)
{
    public const string TokenType = "ic+jwt";
    public const string BudgetIdClaim = "budget_id";
    public const string AgentIdClaim = "agent_id";
    public const string PermissionsClaim = "permissions";

    private const int MaxValidated = 10_000;
    private readonly JsonWebTokenHandler handler = new() { SetDefaultTimesOnTokenCreation = false, MapInboundClaims = false };

    // Tokens whose signature already checked out, by their exact text: a runtime presents the same IC token on every
    // report, and the signature check is most of a report's CPU. Only the signature and claims are remembered; expiry
    // is checked on every use, and revocation is the store's, in the step of each call.
    private readonly ConcurrentDictionary<string, IcTokenClaims> validated = new(StringComparer.Ordinal);

    /// <summary>Signs an IC token for <paramref name="record"/> (iss, aud, sub = agent_id, agent_id, budget_id, permissions, jti, iat, nbf, exp).</summary>
    public async Task<string> IssueAsync(IcTokenRecord record)
    {
        var material = (await keys.GetSetAsync()).Active;
        var jwt = options.Value.Jwt;
        return handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = jwt.Issuer,
            Audience = options.Value.Budgets.IcTokenAudience,
            IssuedAt = record.IssuedAt.UtcDateTime,
            NotBefore = record.IssuedAt.UtcDateTime,
            Expires = record.ExpiresAt.UtcDateTime,
            TokenType = TokenType,
            SigningCredentials = material.Credentials,
            Claims = new Dictionary<string, object>
            {
                [JwtRegisteredClaimNames.Sub] = record.AgentId,
                [JwtRegisteredClaimNames.Jti] = record.Jti,
                [AgentIdClaim] = record.AgentId,
                [BudgetIdClaim] = record.BudgetId,
                [PermissionsClaim] = record.Permissions.ToArray(),
            },
        });
    }

    /// <summary>
    /// Checks signature (a published key, chosen by kid), algorithm, <c>typ</c>, issuer, audience, that no <c>crit</c>
    /// header is present, and then the lifetime, so that an expired but otherwise genuine token is told so. Whether the
    /// token was revoked is the store's to say, in the same step as the call it authorizes.
    /// </summary>
    public async Task<IcTokenVerdict> ValidateAsync(string token)
    {
        if (validated.TryGetValue(token, out var known))
        {
            return time.GetUtcNow() >= known.ExpiresAt + options.Value.Jwt.ClockSkew
                ? new IcTokenVerdict(null, BudgetRefusal.IcTokenExpired)
                : new IcTokenVerdict(known, BudgetRefusal.None);
        }

        var result = await handler.ValidateTokenAsync(token, Parameters(await keys.GetSetAsync()));
        if (result.Exception is SecurityTokenSignatureKeyNotFoundException && TryReadKid(token) is { } kid && await keys.FindAsync(kid) is not null)
        {
            // A key rotated in by another instance since this one last read the store.
            result = await handler.ValidateTokenAsync(token, Parameters(await keys.GetSetAsync()));
        }

        if (!result.IsValid || result.SecurityToken is not JsonWebToken parsed
            // RFC 7515 §4.1.11: IronAuth understands no critical extension.
            || parsed.TryGetHeaderValue<object>("crit", out _)
            || !parsed.TryGetPayloadValue<string>(BudgetIdClaim, out var budgetId) || !Ids.IsWellFormed(budgetId)
            || !parsed.TryGetPayloadValue<string>(AgentIdClaim, out var agentId) || agentId != parsed.Subject
            || !BudgetRules.IsValidAgentId(agentId)
            || string.IsNullOrEmpty(parsed.Id)
            || !parsed.TryGetPayloadValue<string[]>(PermissionsClaim, out var permissions))
        {
            return new IcTokenVerdict(null, BudgetRefusal.UnknownIcToken);
        }

        var now = time.GetUtcNow();
        var skew = options.Value.Jwt.ClockSkew;
        var expires = new DateTimeOffset(parsed.ValidTo, TimeSpan.Zero);
        if (now >= expires + skew)
        {
            return new IcTokenVerdict(null, BudgetRefusal.IcTokenExpired);
        }

        if (now < new DateTimeOffset(parsed.ValidFrom, TimeSpan.Zero) - skew)
        {
            return new IcTokenVerdict(null, BudgetRefusal.UnknownIcToken);
        }

        var claims = new IcTokenClaims(budgetId, agentId, parsed.Id, permissions.ToHashSet(StringComparer.Ordinal), expires);
        if (validated.Count >= MaxValidated)
        {
            validated.Clear();
        }

        validated[token] = claims;
        return new IcTokenVerdict(claims, BudgetRefusal.None);
    }

    private TokenValidationParameters Parameters(SigningKeySet set)
    {
        var jwt = options.Value.Jwt;
        return new TokenValidationParameters
        {
            ValidIssuer = jwt.Issuer,
            ValidAudience = options.Value.Budgets.IcTokenAudience,
            IssuerSigningKeys = [.. set.Published.Select(k => k.PublicKey)],
            TryAllIssuerSigningKeys = false,
            ValidAlgorithms = set.Algorithms,
            // RFC 8725 §3.11: explicit typing; an access token (at+jwt) is refused here.
            ValidTypes = [TokenType],
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateIssuerSigningKey = true,
            // Checked after the signature by ValidateAsync, against the injected clock, to tell expiry apart.
            ValidateLifetime = false,
        };
    }

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
}
