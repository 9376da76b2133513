using IronAuth.Core.Audit;
using IronAuth.Core.Caching;
using IronAuth.Core.Configuration;
using IronAuth.Core.Mfa;
using IronAuth.Core.Passwords;
using IronAuth.Core.Telemetry;
using IronAuth.Core.Users;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IronAuth.Core.Sessions;

/// <summary>What a successful login or refresh hands back.</summary>
public sealed record SignIn(User User, string SessionId, IssuedAccessToken Access, string RefreshToken, DateTimeOffset RefreshExpiresAt);

/// <summary>Password sign-in, refresh-token rotation, logout and access-token authentication.</summary>
public sealed partial class SignInManager(
    IUserStore users,
    ISessionStore sessions,
    IAuditStore audit,
    PasswordHasher hasher,
    PasswordAttempts attempts,
    AccessTokens accessTokens,
    LoginThrottle throttle,
    AuditPseudonyms pseudonyms,
    CredentialCache cache,
    IronAuthMetrics metrics,
    MfaManager mfa,
    IOptions<IronAuthOptions> options,
    TimeProvider time,
    ILogger<SignInManager> logger)
{
    // One body for unknown users and wrong passwords so a response never says whether a username exists.
    private static readonly Failure InvalidCredentials =
        new(FailureKind.Unauthorized, "invalid_credentials", "The username or password is incorrect.");

    private static readonly Failure InvalidRefreshToken =
        new(FailureKind.Unauthorized, "invalid_refresh_token", "The refresh token is invalid or expired.");

    private static readonly Failure InvalidToken =
        new(FailureKind.Unauthorized, "invalid_token", "The access token is invalid, expired or revoked.");

    public async Task<Result<SignIn>> LoginAsync(string username, string password, string? clientIp, CancellationToken cancellationToken)
    {
        using var activity = IronAuthTracing.Source.StartActivity("ironauth.login");
        var result = await SignInAsync(username, password, clientIp, cancellationToken);
        // The answer's code (a closed set), never the username.
        activity?.SetTag("ironauth.outcome", result.Failure?.Code ?? "succeeded");
        // Counted from the answer itself, so the metric says what clients were told; invalid_credentials is the
        // only other refusal a sign-in gives.
        metrics.Login(result.Failure?.Code switch
        {
            null => LoginOutcome.Succeeded,
            "account_locked" => LoginOutcome.Locked,
            "account_suspended" => LoginOutcome.Suspended,
            "rate_limited" => LoginOutcome.Throttled,
            "server_busy" => LoginOutcome.Unavailable,
            _ => LoginOutcome.InvalidCredentials,
        });
        return result;
    }

    public async Task<Result<SignIn>> RefreshAsync(string refreshToken, string? clientIp, CancellationToken cancellationToken)
    {
        using var activity = IronAuthTracing.Source.StartActivity("ironauth.refresh");
        var result = await RotateAsync(refreshToken, clientIp, cancellationToken);
        activity?.SetTag("ironauth.outcome", result.Failure?.Code ?? "rotated");
        metrics.Refresh(result.Failure?.Code switch
        {
            null => RefreshOutcome.Rotated,
            "token_reuse_detected" => RefreshOutcome.Reused,
            _ => RefreshOutcome.Invalid,
        });
        return result;
    }

    private async Task<Result<SignIn>> SignInAsync(string username, string password, string? clientIp, CancellationToken cancellationToken)
    {
        if (throttle.TryAcquire(clientIp) is { } wait)
        {
            LogLoginThrottled(logger);
            return new Failure(FailureKind.TooManyRequests, "rate_limited", "Too many login attempts from this address.") { RetryAfter = wait };
        }

        var now = time.GetUtcNow();
        var user = UsernameRules.CheckUsername(username) is null
            ? await users.FindByUsernameAsync(UsernameRules.Normalize(username), cancellationToken)
            : null;
        // ---- Accounts (issue 16): a username or an email; a username wins when one is both (a different account's
        // name equal to this address — self-registration refuses such names, only an admin can make one). ----
        if (user is null && username.Contains('@', StringComparison.Ordinal) && UsernameRules.CheckEmail(username) is null)
        {
            user = await users.FindByEmailAsync(EmailAddresses.Normalize(username)!, cancellationToken);
        }
        // ---- end Accounts ----
        if (user is { Status: UserStatus.Deleted })
        {
            user = null;
        }

        if (user is null)
        {
            // Unknown names cost the same hash as known ones, so timing does not say whether a name exists.
            if (await hasher.VerifyAsync(password, null, cancellationToken) is null)
            {
                return PasswordHasher.Busy;
            }

            await RecordUnknownUserAsync(username, clientIp);
            return InvalidCredentials;
        }

        var actor = Actor.Anonymous(clientIp);
        // ---- Accounts (issue 16): with two-factor on, a right password leaves its attempt counted (see CheckAsync). ----
        var mfaEnabled = await mfa.IsEnabledAsync(user.Id, cancellationToken);
        var checkedPassword = await attempts.CheckAsync(
            user, password, actor, AuditActions.LoginFailed, InvalidCredentials, cancellationToken, clearOnMatch: !mfaEnabled);
        if (checkedPassword.Failure is { } failure)
        {
            return failure;
        }

        var (matched, needsRehash) = checkedPassword.Value!;
        user = matched;
        if (!user.IsActive)
        {
            // Said only to someone who has just proved the password, after the same lockout as everyone (see README).
            await audit.AppendAboutUserAsync(time, actor, AuditActions.LoginFailed, user.Id, ("reason", "suspended"));
            return new Failure(FailureKind.Forbidden, "account_suspended", "This account is suspended.");
        }

        // ---- Accounts (issue 16) ----
        if (user is { EmailVerificationRequired: true, IsEmailVerified: false })
        {
            // Like "suspended", said only to someone who has just proved the password.
            await audit.AppendAboutUserAsync(time, actor, AuditActions.LoginFailed, user.Id, ("reason", "email_unverified"));
            return new Failure(FailureKind.Forbidden, "email_unverified", "Verify this account's email address before signing in.");
        }

        if (mfaEnabled)
        {
            // The password was right, but it is only half: no tokens, a single-use mfa_token for POST /auth/mfa/verify.
            var mfaToken = await mfa.IssueChallengeAsync(user, cancellationToken);
            return new Failure(FailureKind.Unauthorized, "mfa_required", "Two-factor sign-in is on: send a code with the mfa_token to /api/auth/mfa/verify.")
            {
                Extensions = new Dictionary<string, string> { ["mfa_token"] = mfaToken },
            };
        }
        // ---- end Accounts ----

        if (needsRehash && await hasher.HashAsync(password, cancellationToken) is { } rehash)
        {
            // Only over the hash that was checked: a password changed meanwhile must not be overwritten by the old one.
            var checkedHash = user.PasswordHash;
            var upgraded = await users.ChangeAsync(
                cache,
                user.Id,
                current => current.PasswordHash == checkedHash
                    ? current with { PasswordHash = rehash, UpdatedAt = now }
                    : Failure.Conflict("password_changed", "The password changed while it was being upgraded."),
                cancellationToken);
            user = upgraded.Value ?? user;
        }

        if (await StartSessionAsync(user, cancellationToken) is not { } signIn)
        {
            return InvalidCredentials;
        }

        await audit.AppendAboutUserAsync(time, new Actor(user.Id, user.Username, clientIp), AuditActions.LoginSucceeded, user.Id, ("session_id", signIn.SessionId));
        return signIn;
    }

    // ---- Accounts (issue 16) ----
    /// <summary>
    /// Signs in a user proved some other way than a password (an ID token from a trusted provider): refused for an
    /// inactive account, and answered <c>mfa_required</c> like a password when two-factor sign-in is on.
    /// </summary>
    public async Task<Result<SignIn>> SignInVerifiedAsync(User user, string method, string? clientIp, CancellationToken cancellationToken)
    {
        var actor = new Actor(user.Id, user.Username, clientIp);
        if (!user.IsActive)
        {
            await audit.AppendAboutUserAsync(time, actor, AuditActions.LoginFailed, user.Id, ("reason", "suspended"), ("method", method));
            return new Failure(FailureKind.Forbidden, "account_suspended", "This account is suspended.");
        }

        if (await mfa.IsEnabledAsync(user.Id, cancellationToken))
        {
            var mfaToken = await mfa.IssueChallengeAsync(user, cancellationToken);
            return new Failure(FailureKind.Unauthorized, "mfa_required", "Two-factor sign-in is on: send a code with the mfa_token to /api/auth/mfa/verify.")
            {
                Extensions = new Dictionary<string, string> { ["mfa_token"] = mfaToken },
            };
        }

        if (await StartSessionAsync(user, cancellationToken) is not { } signIn)
        {
            return InvalidCredentials;
        }

        await audit.AppendAboutUserAsync(time, actor, AuditActions.LoginSucceeded, user.Id, ("session_id", signIn.SessionId), ("method", method));
        metrics.Login(LoginOutcome.Succeeded);
        return signIn;
    }

    /// <summary>Completes a sign-in that answered <c>mfa_required</c>, with a TOTP or recovery code (<see cref="MfaManager.CompleteAsync"/>).</summary>
    public async Task<Result<SignIn>> CompleteMfaAsync(string mfaToken, string code, string? clientIp, CancellationToken cancellationToken)
    {
        var completed = await mfa.CompleteAsync(mfaToken, code, clientIp, cancellationToken);
        if (completed.Failure is { } failure)
        {
            return failure;
        }

        var user = completed.Value!;
        if (await StartSessionAsync(user, cancellationToken) is not { } signIn)
        {
            return InvalidCredentials;
        }

        await audit.AppendAboutUserAsync(
            time, new Actor(user.Id, user.Username, clientIp), AuditActions.LoginSucceeded, user.Id, ("session_id", signIn.SessionId), ("mfa", "true"));
        metrics.Login(LoginOutcome.Succeeded);
        return signIn;
    }
    // ---- end Accounts ----

    private async Task<Result<SignIn>> RotateAsync(string refreshToken, string? clientIp, CancellationToken cancellationToken)
    {
        if (!RefreshTokens.TryParse(refreshToken, out var sessionId)
            || await sessions.FindAsync(sessionId, cancellationToken) is not { } session)
        {
            return InvalidRefreshToken;
        }

        var now = time.GetUtcNow();
        var user = await users.FindByIdAsync(session.UserId, cancellationToken);
        if (user is not { IsActive: true })
        {
            await sessions.RevokeAsync(sessionId, "user_inactive", now, cancellationToken);
            cache.EvictSession(sessionId);
            return InvalidRefreshToken;
        }

        var next = RefreshTokens.New(sessionId);
        var nextExpires = now + options.Value.Jwt.RefreshTokenLifetime;
        var outcome = await sessions.RotateAsync(
            sessionId, Ids.Digest(refreshToken), new RefreshTokenRecord(Ids.Digest(next), sessionId, now, nextExpires), now, cancellationToken);

        var actor = new Actor(user.Id, user.Username, clientIp);
        switch (outcome)
        {
            case RotationOutcome.Rotated:
                var access = await accessTokens.IssueAsync(user, sessionId);
                await audit.AppendAboutUserAsync(time, actor, AuditActions.SessionRefreshed, user.Id, ("session_id", sessionId));
                return new SignIn(user, sessionId, access, next, nextExpires);
            case RotationOutcome.Reused:
                cache.EvictSession(sessionId);
                LogRefreshReuse(logger, sessionId);
                await audit.AppendAboutUserAsync(time, actor, AuditActions.RefreshReuseDetected, user.Id, ("session_id", sessionId));
                return new Failure(FailureKind.Unauthorized, "token_reuse_detected",
                    "This refresh token was already used; the session has been revoked. Sign in again.");
            default:
                return InvalidRefreshToken;
        }
    }

    public async Task LogoutAsync(Caller caller, string? clientIp, CancellationToken cancellationToken)
    {
        if (caller.SessionId is not { } sessionId)
        {
            return;
        }

        var revoked = await sessions.RevokeAsync(sessionId, "logout", time.GetUtcNow(), cancellationToken);
        cache.EvictSession(sessionId);
        if (revoked)
        {
            await audit.AppendAboutUserAsync(time, caller.ToActor(clientIp), AuditActions.LoggedOut, caller.UserId, ("session_id", sessionId));
        }
    }

    /// <summary>
    /// Authenticates an access JWT for IronAuth's own endpoints: beyond the signature and lifetime, its
    /// session must still be active and its user active, and the role comes from the stored user, not the
    /// token. Session and user come through <see cref="CredentialCache"/>: logout, revocation, suspension and
    /// demotion take effect at once on the instance that made them, and within the cache TTL on the others.
    /// </summary>
    public async ValueTask<Result<Caller>> AuthenticateAsync(ReadOnlyMemory<char> accessToken, CancellationToken cancellationToken)
    {
        // Only a session's tokens: a client-credentials token (no sid) is for other services; here its client, the API
        // token, is used itself.
        if (await accessTokens.ValidateAsync(accessToken) is not { SessionId: { } sessionId } claims)
        {
            return InvalidToken;
        }

        var now = time.GetUtcNow();
        var session = await cache.GetSessionAsync(sessionId, (sessions, sessionId, cancellationToken), static s => s.sessions.FindAsync(s.sessionId, s.cancellationToken));
        if (session is null || session.UserId != claims.UserId || !session.IsActiveAt(now))
        {
            return InvalidToken;
        }

        var user = await cache.GetUserAsync(claims.UserId, (users, claims.UserId, cancellationToken), static s => s.users.FindByIdAsync(s.UserId, s.cancellationToken));
        if (user is not { IsActive: true })
        {
            return InvalidToken;
        }

        return new Caller(user, AuthMethod.Session, Permissions.Of(user.Role), session.Id, null);
    }

    /// <summary>
    /// Creates the session of a sign-in decided on <paramref name="user"/> as it was read, then reads the user again:
    /// if its password changed or it stopped being active meanwhile, the new session is revoked and the sign-in
    /// refused (null). A password change or reset writes the new hash and then revokes every session, so a session created
    /// before that revocation is ended by it, and one created after it finds the new hash here: a sign-in whose bcrypt
    /// check ran across a reset never keeps a session made with the old password.
    /// </summary>
    private async Task<SignIn?> StartSessionAsync(User user, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var sessionId = Ids.New(time);
        var refresh = RefreshTokens.New(sessionId);
        var expires = now + options.Value.Jwt.RefreshTokenLifetime;
        await sessions.CreateAsync(
            new Session { Id = sessionId, UserId = user.Id, CreatedAt = now, ExpiresAt = expires },
            new RefreshTokenRecord(Ids.Digest(refresh), sessionId, now, expires),
            cancellationToken);
        if (await users.FindByIdAsync(user.Id, CancellationToken.None) is not { IsActive: true } current || current.PasswordHash != user.PasswordHash)
        {
            await sessions.RevokeAsync(sessionId, "credentials_changed", time.GetUtcNow(), CancellationToken.None);
            cache.EvictSession(sessionId);
            return null;
        }

        var access = await accessTokens.IssueAsync(user, sessionId);
        return new SignIn(user, sessionId, access, refresh, expires);
    }

    private async Task RecordUnknownUserAsync(string username, string? clientIp)
    {
        // Never the name itself: a password typed into the username field would land in a log every viewer reads.
        // A keyed hash still lets an admin see that one unknown name was tried again and again.
        var pseudonym = await pseudonyms.OfUsernameAsync(username);
        await audit.AppendAboutUserAsync(
            time, Actor.Anonymous(clientIp), AuditActions.LoginFailed, null, ("reason", "invalid_credentials"), ("username_hmac", pseudonym));
    }

    [LoggerMessage(EventId = 1001, EventName = "LoginThrottled", Level = LogLevel.Warning, Message = "Login attempt refused: too many attempts from one client address")]
    private static partial void LogLoginThrottled(ILogger logger);

    [LoggerMessage(EventId = 1003, EventName = "RefreshTokenReuse", Level = LogLevel.Warning, Message = "Spent refresh token presented again; session {SessionId} revoked")]
    private static partial void LogRefreshReuse(ILogger logger, string sessionId);
}
