using IronAuth.Core.Configuration;
using IronAuth.Core.Users;

namespace IronAuth.Core.Sessions;

/// <summary>
/// Account lockout arithmetic: <see cref="LoginOptions.MaxFailures"/> consecutive failures lock the account
/// for <see cref="LoginOptions.LockoutSeconds"/>, doubling on each repeated lock up to
/// <see cref="LoginOptions.MaxLockoutSeconds"/>. A successful sign-in clears both counters.
/// </summary>
public static class Lockout
{
    public static TimeSpan Duration(int lockoutCount, LoginOptions options)
    {
        var doublings = Math.Clamp(lockoutCount - 1, 0, 30);
        var seconds = Math.Min((long)options.LockoutSeconds << doublings, options.MaxLockoutSeconds);
        return TimeSpan.FromSeconds(seconds);
    }

    public static bool IsLocked(User user, DateTimeOffset now) => user.LockedUntil is { } until && until > now;

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

    public static User RecordSuccess(User user, DateTimeOffset now) =>
        user with { FailedLogins = 0, LockoutCount = 0, LockedUntil = null, UpdatedAt = now };
}
