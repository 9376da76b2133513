using IronAuth.Core.Audit;
using IronAuth.Core.Caching;
using IronAuth.Core.Configuration;
using IronAuth.Core.Passwords;
using IronAuth.Core.Users;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IronAuth.Core.Sessions;

/// <summary>A password that matched: the user with its failure counters cleared, and whether its hash is due an upgrade.</summary>
public sealed record PasswordMatch(User User, bool NeedsRehash);

/// <summary>
/// Checks the password of a known account under the lockout, for every place that takes one (sign-in, and the
/// current password of a self-service change), so they share one failure counter and one lock.
/// </summary>
/// <remarks>
/// <para>Order, each step a refusal value:</para>
/// <list type="number">
/// <item>A lock already visible on the user read by the caller refuses at once (429 <c>account_locked</c>), without
/// queueing for a hashing slot.</item>
/// <item>A hashing slot is taken; none in time is 503 <c>server_busy</c>, and nothing was counted.</item>
/// <item>Holding the slot, the attempt is reserved (<see cref="Lockout.Reserve"/>) in one conditional write of the
/// user (version or ETag, re-read and re-decided on conflict). A lock found there refuses without hashing; so does
/// losing every retry to other writers (429 <c>rate_limited</c>), since an attempt that was not counted must not
/// be checked.</item>
/// <item>Only then is bcrypt run, against the hash of the user as the reservation read it.</item>
/// <item>A wrong password is audited (and the lock, when its reservation set one); nothing more is written, the
/// reservation already counted it. A correct one clears the counters, on an active account.</item>
/// </list>
/// <para>
/// So every hashed attempt is a distinct, committed increment of the counter, and the increment that reaches
/// <see cref="LoginOptions.MaxFailures"/> locks in the same write: at most <c>MaxFailures</c> wrong passwords are
/// checked per lock window, whatever the concurrency, across instances, on both stores. A correct password on an
/// active account clears the counters (the owner is back), the only way a new window opens early.
/// </para>
/// </remarks>
public sealed partial class PasswordAttempts(
    IUserStore users,
    IAuditStore audit,
    PasswordHasher hasher,
    CredentialCache cache,
    IOptions<IronAuthOptions> options,
    TimeProvider time,
    ILogger<PasswordAttempts> logger)
{
    /// <summary>A wrong <c>current_password</c> where a signed-in user re-proves it (password or email change, enrolment).</summary>
    public static readonly Failure WrongCurrentPassword =
        new(FailureKind.Forbidden, "invalid_credentials", "current_password is incorrect.");

    private static readonly Failure Contended =
        new(FailureKind.TooManyRequests, "rate_limited", "Too many password attempts for this account at once; try again shortly.")
        {
            RetryAfter = TimeSpan.FromSeconds(1),
        };

    /// <summary>
    /// Checks <paramref name="password"/> against <paramref name="user"/>'s. Refusals: <c>account_locked</c>,
    /// <c>rate_limited</c>, <see cref="PasswordHasher.Busy"/>, or <paramref name="mismatch"/> for a wrong password (or
    /// a user deleted meanwhile). Failed attempts are audited as <paramref name="failedAction"/> by <paramref name="actor"/>.
    /// </summary>
    /// <param name="clearOnMatch">
    /// False when a right password is only half of the proof (two-factor sign-in): the attempt then stays counted until
    /// the second factor clears it, so a guesser who has the password cannot reset the count between wrong codes.
    /// </param>
    public async Task<Result<PasswordMatch>> CheckAsync(
        User user, string password, Actor actor, string failedAction, Failure mismatch, CancellationToken cancellationToken, bool clearOnMatch = true)
    {
        var login = options.Value.Login;
        var readAt = time.GetUtcNow();
        if (Lockout.IsLocked(user, readAt))
        {
            await audit.AppendAboutUserAsync(time, actor, failedAction, user.Id, ("reason", "locked"));
            return Lockout.Locked(user, readAt);
        }

        User? before = null;
        User? reserved = null;
        var verdict = await hasher.VerifyAdmittedAsync(
            password,
            async () =>
            {
                var now = time.GetUtcNow();
                var written = await users.ChangeAsync(
                    cache,
                    user.Id,
                    current =>
                    {
                        before = current;
                        var next = current.Status == UserStatus.Deleted ? Failure.NotFound("User") : Lockout.Reserve(current, login, now);
                        reserved = next.Value;
                        return next;
                    },
                    cancellationToken);
                return written.Failure is { } failure ? failure : written.Value!.PasswordHash;
            },
            cancellationToken);

        if (verdict.Failure is { } refused)
        {
            return await RefusedAsync(user, refused, actor, failedAction, mismatch);
        }

        if (verdict.Value == PasswordVerdict.Mismatch)
        {
            await audit.AppendAboutUserAsync(time, actor, failedAction, user.Id, ("reason", "invalid_credentials"));
            if (reserved is { LockedUntil: { } until } && before is not null && before.LockedUntil != until)
            {
                // This attempt's reservation set the lock, so exactly one entry records it however many raced.
                LogAccountLocked(logger, user.Id, until);
                await audit.AppendAboutUserAsync(time, Actor.System, AuditActions.AccountLocked, user.Id, ("until", until.ToString("O")), ("after", failedAction));
            }

            return mismatch;
        }

        var needsRehash = verdict.Value == PasswordVerdict.MatchNeedsRehash;
        if (reserved is not { IsActive: true } || !clearOnMatch)
        {
            // A suspended account gains nothing from its password, so the match stays counted: guesses at it stay
            // within one window of MaxFailures even when one of them is right (its 403 says "suspended" no more often).
            return new PasswordMatch(reserved ?? user, needsRehash);
        }

        // The owner proved the password: the failures, any lock (even one its own reservation just set) and the
        // doubling are cleared. Losing this write to concurrent writers only leaves the attempt counted.
        var now = time.GetUtcNow();
        var cleared = await users.ChangeAsync(cache, user.Id, current => Lockout.RecordSuccess(current, now), cancellationToken);
        return new PasswordMatch(cleared.Value ?? reserved, needsRehash);
    }

    private async Task<Failure> RefusedAsync(User user, Failure refused, Actor actor, string failedAction, Failure mismatch)
    {
        switch (refused.Code)
        {
            case "account_locked":
                await audit.AppendAboutUserAsync(time, actor, failedAction, user.Id, ("reason", "locked"));
                return refused;
            case "concurrent_update":
                LogAttemptContended(logger, user.Id);
                await audit.AppendAboutUserAsync(time, actor, failedAction, user.Id, ("reason", "contended"));
                return Contended;
            case "not_found":
                // Deleted while we looked: answered like a wrong password, so it says nothing new.
                await audit.AppendAboutUserAsync(time, actor, failedAction, user.Id, ("reason", "invalid_credentials"));
                return mismatch;
            default:
                return refused;
        }
    }

    [LoggerMessage(EventId = 1002, EventName = "AccountLocked", Level = LogLevel.Warning, Message = "User {UserId} locked until {LockedUntil} after repeated failed password attempts")]
    private static partial void LogAccountLocked(ILogger logger, string userId, DateTimeOffset lockedUntil);

    [LoggerMessage(EventId = 1004, EventName = "PasswordAttemptContended", Level = LogLevel.Warning, Message = "Password attempt for user {UserId} refused unchecked: it could not be counted against concurrent attempts")]
    private static partial void LogAttemptContended(ILogger logger, string userId);
}
