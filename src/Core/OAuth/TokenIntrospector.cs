using IronAuth.Core.Audit;
using IronAuth.Core.Caching;
using IronAuth.Core.Sessions;
using IronAuth.Core.Tokens;
using IronAuth.Core.Users;

namespace IronAuth.Core.OAuth;

/// <summary>What kind of token an introspection found.</summary>
public enum TokenKind
{
    AccessToken,
    RefreshToken,
    ApiToken,
}

/// <summary>An RFC 7662 §2.2 answer: inactive, or active with what the token is and grants.</summary>
public sealed record Introspection(
    bool Active,
    TokenKind? Kind = null,
    string? Subject = null,
    string? Username = null,
    string? ClientId = null,
    string? Scope = null,
    DateTimeOffset? IssuedAt = null,
    DateTimeOffset? ExpiresAt = null,
    string? Jti = null)
{
    public static Introspection Inactive { get; } = new(false);
}

/// <summary>
/// Introspection (RFC 7662) and revocation (RFC 7009) of every token IronAuth issues, told apart by shape: API tokens
/// (<c>iron_…</c>), refresh tokens (<c>{session id}.{secret}</c>) and access JWTs. A token is active only while all
/// that IronAuth's own endpoints check holds: for an access token its signature, lifetime, session (or, for a
/// client-credentials token, its client API token) and user; for a refresh token that it is the session's unspent,
/// unexpired one; for an API token that it is unrevoked, unexpired and its owner active. Introspection reads the store
/// directly (no cache, no metering): its answer is the current state, and looking does not spend an API token's bucket.
/// </summary>
public sealed class TokenIntrospector(
    AccessTokens accessTokens,
    ISessionStore sessions,
    IUserStore users,
    IApiTokenStore apiTokens,
    TokenManager tokenManager,
    IAuditStore audit,
    CredentialCache cache,
    TimeProvider time)
{
    public async Task<Introspection> IntrospectAsync(string token, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (token.StartsWith(ApiTokenFormat.Prefix, StringComparison.Ordinal))
        {
            return await ActiveApiTokenAsync(token, now, cancellationToken) is { } api
                ? new Introspection(true, TokenKind.ApiToken, api.Owner.Id, api.Owner.Username, api.Token.Id,
                    string.Join(' ', TokenVerifier.EffectiveScopes(api.Token, api.Owner).Ordered),
                    api.Token.CreatedAt, api.Token.ExpiresAt)
                : Introspection.Inactive;
        }

        if (RefreshTokens.TryParse(token, out var sessionId))
        {
            var record = await sessions.FindRefreshTokenAsync(sessionId, Ids.Digest(token), cancellationToken);
            return record is { SpentAt: null } && record.ExpiresAt > now && await ActiveSessionUserAsync(sessionId, now, cancellationToken) is { } user
                ? new Introspection(true, TokenKind.RefreshToken, user.Id, user.Username, AccessTokens.FirstPartyClientId,
                    string.Join(' ', Permissions.Of(user.Role).Ordered), record.IssuedAt, record.ExpiresAt)
                : Introspection.Inactive;
        }

        if (await accessTokens.ValidateAsync(token) is not { } claims)
        {
            return Introspection.Inactive;
        }

        // What the token may do now: its scope, narrowed to what its user's role (and, for a client-credentials token,
        // its client API token) allows today, as IronAuth's own endpoints would narrow it.
        var (holder, allowed) = claims.SessionId is { } sid
            ? await ActiveSessionUserAsync(sid, now, cancellationToken) is { } person ? (person, Permissions.Of(person.Role)) : default
            : await ActiveClientAsync(claims.ClientId, now, cancellationToken) is { } client ? (client.Owner, TokenVerifier.EffectiveScopes(client.Token, client.Owner)) : default;
        if (holder is null || holder.Id != claims.UserId)
        {
            return Introspection.Inactive;
        }

        var scope = string.Join(' ', claims.Scope.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(allowed!.Contains));
        return new Introspection(true, TokenKind.AccessToken, holder.Id, holder.Username, claims.ClientId, scope, claims.IssuedAt, claims.ExpiresAt, claims.Jti);
    }

    /// <summary>
    /// Revokes what <paramref name="token"/> stands for: a refresh or access token ends its session; an API token is
    /// revoked if <paramref name="caller"/> may write its owner's tokens. Unknown, invalid and already-dead tokens change
    /// nothing and are no failure (RFC 7009 §2.2); a client-credentials access token cannot be revoked by itself (its
    /// client, the API token, can).
    /// </summary>
    public async Task<Result<bool>> RevokeAsync(string token, Caller? caller, string? clientIp, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var actor = caller?.ToActor(clientIp) ?? Actor.Anonymous(clientIp);
        if (token.StartsWith(ApiTokenFormat.Prefix, StringComparison.Ordinal))
        {
            if (!ApiTokenFormat.IsWellFormed(token) || await apiTokens.FindByDigestAsync(Ids.Digest(token), cancellationToken) is not { } apiToken)
            {
                return false;
            }

            // RFC 7009 §2.1: the token must have been issued to the client asking; here, the caller must hold its owner's
            // tokens:write. Without that, the holder of a leaked token's text could not be told apart from its owner.
            var denied = caller is null
                ? Failure.Forbidden("Revoking an API token needs its owner's or an admin's credentials.")
                : caller.Require(Permissions.TokensWrite, apiToken.UserId);
            if (denied is not null)
            {
                return denied;
            }

            await tokenManager.RevokeAsync(actor, apiToken, cancellationToken);
            return true;
        }

        string? sessionId = null;
        if (RefreshTokens.TryParse(token, out var refreshSession))
        {
            // Spent or not: presenting any refresh token of a session is enough to end it (a logout by its holder).
            sessionId = await sessions.FindRefreshTokenAsync(refreshSession, Ids.Digest(token), cancellationToken) is not null ? refreshSession : null;
        }
        else if (await accessTokens.ValidateAsync(token) is { } claims)
        {
            if (claims.SessionId is null)
            {
                return new Failure(FailureKind.Validation, "unsupported_token_type",
                    "A client-credentials access token cannot be revoked by itself; revoke its client, the API token.");
            }

            sessionId = claims.SessionId;
        }

        if (sessionId is null || await sessions.FindAsync(sessionId, cancellationToken) is not { } session)
        {
            return false;
        }

        var revoked = await sessions.RevokeAsync(sessionId, "revoked", now, cancellationToken);
        cache.EvictSession(sessionId);
        if (revoked)
        {
            await audit.AppendAboutUserAsync(time, actor, AuditActions.SessionRevoked, session.UserId, ("session_id", sessionId));
        }

        return revoked;
    }

    private async Task<User?> ActiveSessionUserAsync(string sessionId, DateTimeOffset now, CancellationToken cancellationToken) =>
        await sessions.FindAsync(sessionId, cancellationToken) is { } session && session.IsActiveAt(now)
        && await users.FindByIdAsync(session.UserId, cancellationToken) is { IsActive: true } user
            ? user
            : null;

    private async Task<(ApiToken Token, User Owner)?> ActiveClientAsync(string clientId, DateTimeOffset now, CancellationToken cancellationToken) =>
        Ids.IsWellFormed(clientId) && await apiTokens.FindByIdAsync(clientId, cancellationToken) is { } token && IsLive(token, now)
        && await users.FindByIdAsync(token.UserId, cancellationToken) is { IsActive: true } owner
            ? (token, owner)
            : null;

    private async Task<(ApiToken Token, User Owner)?> ActiveApiTokenAsync(string presented, DateTimeOffset now, CancellationToken cancellationToken) =>
        ApiTokenFormat.IsWellFormed(presented)
        && await apiTokens.FindByDigestAsync(Ids.Digest(presented), cancellationToken) is { } token && IsLive(token, now)
        && await users.FindByIdAsync(token.UserId, cancellationToken) is { IsActive: true } owner
            ? (token, owner)
            : null;

    private static bool IsLive(ApiToken token, DateTimeOffset now) => token.RevokedAt is null && token.ExpiresAt > now;
}
