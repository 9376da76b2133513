using IronAuth.Core.Audit;
using IronAuth.Core.Caching;
using IronAuth.Core.Configuration;
using IronAuth.Core.Passwords;
using IronAuth.Core.Sessions;
using IronAuth.Core.Tokens;
using Microsoft.Extensions.Options;

namespace IronAuth.Core.Users;

/// <param name="RequireVerifiedEmail">The account cannot sign in until its email is verified (self-registration).</param>
/// <param name="Id">The id to create the user under (federated sign-in claims it first); a new one when null.</param>
public sealed record NewUser(
    string Username, string Password, Role Role, string? Email = null, string? DisplayName = null, bool RequireVerifiedEmail = false, string? Id = null);

/// <summary>
/// A profile change: a field that is not <c>Set</c> stays as it is; set to null, it is cleared. A user changing its own
/// email sends its <paramref name="CurrentPassword"/> (see <see cref="UserManager.UpdateProfileAsync"/>).
/// </summary>
public sealed record ProfileChange(bool EmailSet, string? Email, bool DisplayNameSet, string? DisplayName, string? CurrentPassword = null);

public sealed record IssuedPasswordReset(string Token, DateTimeOffset ExpiresAt);

/// <summary>
/// The rules for user accounts: validation, password policy, the last-admin rule, ending sessions when an
/// account stops being usable, and an audit entry for every change. Who may call what is decided at the edge
/// with <see cref="Caller.Require"/>.
/// </summary>
public sealed class UserManager(
    IUserStore users,
    ISessionStore sessions,
    IPasswordResetStore resets,
    IAuditStore audit,
    PasswordPolicy policy,
    PasswordHasher hasher,
    PasswordAttempts attempts,
    CredentialCache cache,
    TokenManager apiTokens,
    IOptions<IronAuthOptions> options,
    TimeProvider time)
{
    public const int MaxPageSize = 200;

    private static readonly Failure InvalidResetToken =
        new(FailureKind.Validation, "invalid_reset_token", "The reset token is invalid, expired or already used.");

    public async Task<Result<User>> CreateAsync(Actor actor, NewUser request, CancellationToken cancellationToken)
    {
        var invalid = UsernameRules.CheckUsername(request.Username)
            ?? UsernameRules.CheckEmail(request.Email)
            ?? UsernameRules.CheckDisplayName(request.DisplayName)
            ?? policy.Check(request.Password, request.Username, request.Email);
        if (invalid is not null)
        {
            return invalid;
        }

        if (await hasher.HashAsync(request.Password, cancellationToken) is not { } hash)
        {
            return PasswordHasher.Busy;
        }

        var now = time.GetUtcNow();
        var user = new User
        {
            Id = request.Id ?? Ids.New(time),
            Username = request.Username,
            Email = request.Email,
            DisplayName = request.DisplayName,
            Role = request.Role,
            PasswordHash = hash,
            CreatedAt = now,
            UpdatedAt = now,
            EmailVerificationRequired = request.RequireVerifiedEmail,
        };
        if (!await users.CreateAsync(user, cancellationToken))
        {
            // The store refuses a taken username or email alike; which one it was is read back (either way nothing was written).
            return await users.FindByUsernameAsync(user.NormalizedUsername, cancellationToken) is not null || user.NormalizedEmail is null
                ? Failure.Conflict("username_taken", $"The username '{request.Username}' is already taken.")
                : Failure.Conflict("email_taken", "Another account already uses this email address.");
        }

        await audit.AppendAboutUserAsync(time, actor, AuditActions.UserCreated, user.Id, ("username", user.Username), ("role", user.Role.ToWire()));
        return await users.FindByIdAsync(user.Id, cancellationToken) ?? user;
    }

    public async Task<Result<User>> GetAsync(string id, CancellationToken cancellationToken) =>
        Ids.IsWellFormed(id) && await users.FindByIdAsync(id, cancellationToken) is { } user ? user : Failure.NotFound("User");

    public async Task<Result<User>> FindByUsernameAsync(string username, CancellationToken cancellationToken) =>
        UsernameRules.CheckUsername(username) is null
        && await users.FindByUsernameAsync(UsernameRules.Normalize(username), cancellationToken) is { } user
            ? user
            : Failure.NotFound($"User '{username}'");

    public Task<Page<User>> ListAsync(UserQuery query, CancellationToken cancellationToken) =>
        users.ListAsync(query with { Limit = Math.Clamp(query.Limit, 1, MaxPageSize) }, cancellationToken);

    public async Task<Result<User>> UpdateProfileAsync(Actor actor, string id, ProfileChange change, CancellationToken cancellationToken)
    {
        var invalid = (change.EmailSet ? UsernameRules.CheckEmail(change.Email) : null)
            ?? (change.DisplayNameSet ? UsernameRules.CheckDisplayName(change.DisplayName) : null);
        if (invalid is not null)
        {
            return invalid;
        }

        if (change.EmailSet && actor.UserId == id && await GetAsync(id, cancellationToken) is { Value: { } self }
            && EmailAddresses.Normalize(change.Email) != self.NormalizedEmail)
        {
            // The email is where resets and verification codes go: whoever changes their own must prove the password,
            // so a stolen access or API token cannot move the account's recovery to an address of its own. Checked
            // under sign-in's lockout, like a password change. (An admin changing another user's email needs none.)
            if (change.CurrentPassword is null)
            {
                return Failure.Validation("current_password is required to change your own email.");
            }

            if ((await attempts.CheckAsync(self, change.CurrentPassword, actor, AuditActions.EmailChangeFailed, PasswordAttempts.WrongCurrentPassword, cancellationToken)).Failure is { } failure)
            {
                return failure;
            }
        }

        var emailChanged = false;
        var result = await ChangeAsync(id, user =>
        {
            var email = change.EmailSet ? change.Email : user.Email;
            emailChanged = EmailAddresses.Normalize(email) != user.NormalizedEmail;
            return user with
            {
                Email = email,
                // A new address has not been proved by anyone yet.
                EmailVerifiedAt = emailChanged ? null : user.EmailVerifiedAt,
                DisplayName = change.DisplayNameSet ? change.DisplayName : user.DisplayName,
            };
        }, cancellationToken);
        if (result.Succeeded)
        {
            // A reset token mailed to the old address must not outlive the move to a new one.
            var spentResets = emailChanged ? await resets.SpendAllAsync(id, time.GetUtcNow(), cancellationToken) : 0;
            var fields = string.Join(',', new[] { change.EmailSet ? "email" : null, change.DisplayNameSet ? "display_name" : null }.OfType<string>());
            await audit.AppendAboutUserAsync(time, actor, AuditActions.UserUpdated, id, ("fields", fields), ("spent_resets", Count(spentResets)));
        }

        return result;
    }

    public async Task<Result<User>> SuspendAsync(Actor actor, string id, string? reason, CancellationToken cancellationToken)
    {
        if (reason is { Length: > 500 })
        {
            return Failure.Validation("reason must be at most 500 characters.");
        }

        var result = await ChangeAsync(
            id,
            user => user.Status == UserStatus.Deleted
                ? Failure.Conflict("user_deleted", "A deleted user cannot be suspended.")
                : user with { Status = UserStatus.Suspended, StatusReason = reason },
            cancellationToken,
            keepAnActiveAdmin: IsActiveAdmin);
        if (result.Succeeded)
        {
            await EndSessionsAsync(id, null, "user_suspended", cancellationToken);
            await audit.AppendAboutUserAsync(time, actor, AuditActions.UserSuspended, id, ("reason", reason ?? ""));
        }

        return result;
    }

    public async Task<Result<User>> ActivateAsync(Actor actor, string id, CancellationToken cancellationToken)
    {
        var result = await ChangeAsync(
            id,
            user => user.Status == UserStatus.Deleted
                ? Failure.Conflict("user_deleted", "A deleted user cannot be reactivated.")
                : user with { Status = UserStatus.Active, StatusReason = null, FailedLogins = 0, LockedUntil = null },
            cancellationToken);
        if (result.Succeeded)
        {
            await audit.AppendAboutUserAsync(time, actor, AuditActions.UserActivated, id);
        }

        return result;
    }

    public async Task<Result<User>> DeleteAsync(Actor actor, string id, CancellationToken cancellationToken)
    {
        var result = await ChangeAsync(
            id,
            user => user with { Status = UserStatus.Deleted },
            cancellationToken,
            keepAnActiveAdmin: IsActiveAdmin);
        if (result.Succeeded)
        {
            await EndSessionsAsync(id, null, "user_deleted", cancellationToken);
            // A deleted user's tokens are refused anyway (owner inactive); revoking them makes them list as revoked.
            await apiTokens.RevokeAllOfUserAsync(actor, id, "user_deleted", cancellationToken);
            await audit.AppendAboutUserAsync(time, actor, AuditActions.UserDeleted, id);
        }

        return result;
    }

    public async Task<Result<User>> SetRoleAsync(Actor actor, string id, Role role, CancellationToken cancellationToken)
    {
        Role? previous = null;
        var result = await ChangeAsync(
            id,
            user =>
            {
                previous = user.Role;
                return user.Status == UserStatus.Deleted
                    ? Failure.Conflict("user_deleted", "A deleted user's role cannot change.")
                    : user with { Role = role };
            },
            cancellationToken,
            keepAnActiveAdmin: user => role != Role.Admin && IsActiveAdmin(user));
        if (result.Succeeded && previous != role)
        {
            await audit.AppendAboutUserAsync(time, actor, AuditActions.UserRoleChanged, id, ("from", previous!.Value.ToWire()), ("to", role.ToWire()));
        }

        return result;
    }

    /// <summary>
    /// Self-service change: needs the current password and ends the user's other sessions. The current password is
    /// checked under the same lockout as sign-in (<see cref="PasswordAttempts"/>), so a stolen access token cannot
    /// make it a guessing oracle: wrong guesses count, are audited, and lock the account for sign-in as well. Any
    /// outstanding reset token is spent first (an older reset must not undo this change); with
    /// <paramref name="revokeTokens"/>, every API token of the user is revoked too (after a suspected compromise).
    /// </summary>
    public async Task<Result<User>> ChangePasswordAsync(
        Actor actor, string id, string currentPassword, string newPassword, string? keepSessionId, bool revokeTokens, CancellationToken cancellationToken)
    {
        if (await GetAsync(id, cancellationToken) is not { Value: { } user })
        {
            return Failure.NotFound("User");
        }

        var checkedPassword = await attempts.CheckAsync(
            user, currentPassword, actor, AuditActions.PasswordChangeFailed, PasswordAttempts.WrongCurrentPassword, cancellationToken);
        if (checkedPassword.Failure is { } failure)
        {
            return failure;
        }

        var current = checkedPassword.Value!.User;
        if (policy.Check(newPassword, current.Username, current.Email) is { } weak)
        {
            return weak;
        }

        // Spent before the password is set, so a reset confirmed meanwhile cannot land after this change.
        var spentResets = await resets.SpendAllAsync(id, time.GetUtcNow(), cancellationToken);
        var result = await SetPasswordAsync(current, newPassword, cancellationToken);
        if (result.Succeeded)
        {
            await EndSessionsAsync(id, keepSessionId, "password_changed", cancellationToken);
            var revoked = revokeTokens ? await apiTokens.RevokeAllOfUserAsync(actor, id, "password_changed", cancellationToken) : 0;
            await audit.AppendAboutUserAsync(
                time, actor, AuditActions.PasswordChanged, id, ("spent_resets", Count(spentResets)), ("revoked_tokens", Count(revoked)));
        }

        return result;
    }

    /// <summary>Issues a one-time reset token, shown once; only its digest is stored.</summary>
    public async Task<Result<IssuedPasswordReset>> IssuePasswordResetAsync(Actor actor, string id, CancellationToken cancellationToken)
    {
        if (await GetAsync(id, cancellationToken) is not { Value: { IsActive: true } user })
        {
            return Failure.NotFound("Active user");
        }

        var now = time.GetUtcNow();
        var token = Ids.NewSecret();
        var expires = now + options.Value.Passwords.ResetTokenLifetime;
        await resets.AddAsync(new PasswordResetTicket(Ids.Digest(token), user.Id, now, expires), cancellationToken);
        await audit.AppendAboutUserAsync(time, actor, AuditActions.PasswordResetIssued, id, ("expires_at", expires.ToString("O")));
        return new IssuedPasswordReset(token, expires);
    }

    /// <summary>
    /// Spends a reset token and sets the new password; ends every session of the user and revokes its API tokens: a
    /// reset is account recovery, and whoever had the account may have made tokens with it.
    /// </summary>
    public async Task<Result<User>> ConfirmPasswordResetAsync(string token, string newPassword, string? clientIp, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (token is not { Length: 43 } || await resets.FindUsableAsync(Ids.Digest(token), now, cancellationToken) is not { } ticket
            || await users.FindByIdAsync(ticket.UserId, cancellationToken) is not { IsActive: true } user)
        {
            return InvalidResetToken;
        }

        // Check the policy before spending, so a rejected password does not burn the token.
        if (policy.Check(newPassword, user.Username, user.Email) is { } weak)
        {
            return weak;
        }

        if (!await resets.SpendAsync(ticket.Digest, now, cancellationToken))
        {
            return InvalidResetToken;
        }

        var result = await SetPasswordAsync(user, newPassword, cancellationToken, clearLockout: true);
        if (result.Succeeded)
        {
            var actor = new Actor(user.Id, user.Username, clientIp);
            await EndSessionsAsync(user.Id, null, "password_reset", cancellationToken);
            var revoked = await apiTokens.RevokeAllOfUserAsync(actor, user.Id, "password_reset", cancellationToken);
            await audit.AppendAboutUserAsync(time, actor, AuditActions.PasswordReset, user.Id, ("revoked_tokens", Count(revoked)));
        }

        return result;
    }

    /// <summary>Hashes and stores a new password its caller has already checked against the policy.</summary>
    private async Task<Result<User>> SetPasswordAsync(User user, string newPassword, CancellationToken cancellationToken, bool clearLockout = false)
    {
        if (await hasher.HashAsync(newPassword, cancellationToken) is not { } hash)
        {
            return PasswordHasher.Busy;
        }

        var now = time.GetUtcNow();
        return await ChangeAsync(
            user.Id,
            current => (clearLockout ? Lockout.RecordSuccess(current, now) : current) with { PasswordHash = hash },
            cancellationToken);
    }

    private Task<Result<User>> ChangeAsync(
        string id, Func<User, Result<User>> change, CancellationToken cancellationToken, Func<User, bool>? keepAnActiveAdmin = null)
    {
        if (!Ids.IsWellFormed(id))
        {
            return Task.FromResult<Result<User>>(Failure.NotFound("User"));
        }

        var now = time.GetUtcNow();
        return users.ChangeAsync(
            cache,
            id,
            user =>
            {
                var changed = change(user);
                return changed.Value is { } next ? next with { UpdatedAt = now } : changed;
            },
            cancellationToken,
            keepAnActiveAdmin);
    }

    private async Task EndSessionsAsync(string userId, string? exceptSessionId, string reason, CancellationToken cancellationToken)
    {
        await sessions.RevokeAllAsync(userId, exceptSessionId, reason, time.GetUtcNow(), cancellationToken);
        cache.EvictSessionsOf(userId);
    }

    private static string Count(int count) => count.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static bool IsActiveAdmin(User user) => user.Role == Role.Admin && user.IsActive;
}
