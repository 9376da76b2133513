using IronAuth.Core.Configuration;
using IronAuth.Core.Users;

namespace IronAuth.Core.Sessions;

/// <summary>
/// Account lockout arithmetic, the one place it lives. Every password check of a known account first
/// <see cref="Reserve">reserves</see> an attempt: the failure counter goes up by one <em>before</em> the
/// password is hashed, in one conditional write of the user, and the reservation that brings it to
/// <see cref="LoginOptions.MaxFailures"/> locks the account at once for <see cref="LoginOptions.LockoutSeconds"/>,
/// doubling on each repeated lock up to <see cref="LoginOptions.MaxLockoutSeconds"/>. A reservation is refused
/// while the account is locked. A correct password then clears the counters (<see cref="RecordSuccess"/>); a wrong
/// one leaves its reservation counted, so nothing is written after the hash. The reservation is made while a
/// hashing slot is already held (<see cref="PasswordAttempts"/>), so an attempt turned away as busy was never
/// counted and nothing ever has to be given back.
/// </summary>
/// <remarks>
/// Why this bounds guessing under any concurrency: a password is only hashed after its reservation was
/// written, and a reservation is written only against the version of the user it read (an ETag or version
/// conditional write on both stores), so every hashed attempt is one distinct increment of the counter. The
/// increment that reaches <c>MaxFailures</c> sets <c>LockedUntil</c> in the same write, so at most
/// <c>MaxFailures</c> attempts are hashed between one lock (or success) and the next, however many run in
/// parallel, on however many instances share the store. Only a correct password, which the guesser does not
/// have, clears the counters early.
/// </remarks>
public static class Lockout
{
    public static TimeSpan Duration(int lockoutCount, LoginOptions options)
    {
        var doublings = Math.Clamp(lockoutCount - 1, 0, 30);
        var seconds = Math.Min((long)options.LockoutSeconds << doublings, options.MaxLockoutSeconds);
        return TimeSpan.FromSeconds(seconds);
    }

    public static bool IsLocked(User user, DateTimeOffset now) => user.LockedUntil is { } until && until > now;

    /// <summary>The refusal for a locked account, with how long the lock still holds.</summary>
    public static Failure Locked(User user, DateTimeOffset now) =>
        new(FailureKind.TooManyRequests, "account_locked", "Too many failed password attempts; the account is locked for a while.")
        {
            RetryAfter = user.LockedUntil!.Value - now,
        };

    /// <summary>
    /// Counts one password attempt before it is checked: <see cref="Locked"/> when the account is locked (nothing
    /// is written and the password must not be hashed), else the user with the attempt counted, locked when this
    /// attempt is the <see cref="LoginOptions.MaxFailures"/>th.
    /// </summary>
    public static Result<User> Reserve(User user, LoginOptions options, DateTimeOffset now) =>
        IsLocked(user, now) ? Locked(user, now) : RecordFailure(user, options, now);

    /// <summary>Counts one failure; the <see cref="LoginOptions.MaxFailures"/>th in a row locks the account.</summary>
    public static User RecordFailure(User user, LoginOptions options, DateTimeOffset now)
    {
        var failures = user.FailedLogins + 1;
        if (failures < options.MaxFailures)
        {
            return user with { FailedLogins = failures, UpdatedAt = now };
        }

        var count = user.LockoutCount + 1;
        return user with { FailedLogins = 0, LockoutCount = count, LockedUntil = now + Duration(count, options), UpdatedAt = now };
    }

    /// <summary>A correct password: clears the failures, the lock and the doubling.</summary>
    public static User RecordSuccess(User user, DateTimeOffset now) =>
        user with { FailedLogins = 0, LockoutCount = 0, LockedUntil = null, UpdatedAt = now };
}
