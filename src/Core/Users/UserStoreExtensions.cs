using System.Diagnostics;
using IronAuth.Core.Caching;
using IronAuth.Core.Storage;

namespace IronAuth.Core.Users;

public static class UserStoreExtensions
{
    // A user's row is hot when many sign-ins for one account (each counting toward its lockout) arrive at once: every
    // lost race waits a jittered, doubling while before re-reading, so a burst of contenders all get through in turn.
    // The first bound is the lost attempt's own read and write time (at least 2 ms): contenders spread over windows as
    // long as the store takes, fast on a local file, slower on a loaded remote store.
    private const int MaxAttempts = 12;
    private static readonly TimeSpan MinBackoff = TimeSpan.FromMilliseconds(2);

    /// <summary>
    /// <see cref="ChangeAsync(IUserStore, string, Func{User, Result{User}}, CancellationToken, Func{User, bool}?)"/>, then
    /// evicts the user from <paramref name="cache"/>, so authentication on this instance sees the change at once (a
    /// suspended, deleted or demoted user stops here, not after the cache TTL).
    /// </summary>
    public static async Task<Result<User>> ChangeAsync(
        this IUserStore store,
        CredentialCache cache,
        string id,
        Func<User, Result<User>> change,
        CancellationToken cancellationToken,
        Func<User, bool>? keepAnActiveAdmin = null)
    {
        var result = await store.ChangeAsync(id, change, cancellationToken, keepAnActiveAdmin);
        cache.EvictUser(id);
        return result;
    }

    /// <summary>
    /// Read-modify-write of one user with optimistic concurrency: re-reads and re-applies
    /// <paramref name="change"/> when another writer got there first.
    /// </summary>
    public static async Task<Result<User>> ChangeAsync(
        this IUserStore store,
        string id,
        Func<User, Result<User>> change,
        CancellationToken cancellationToken,
        Func<User, bool>? keepAnActiveAdmin = null)
    {
        var lost = TimeSpan.Zero;
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            if (attempt > 0)
            {
                await ConflictBackoff.DelayAsync(lost > MinBackoff ? lost : MinBackoff, attempt - 1, cancellationToken);
            }

            var started = Stopwatch.GetTimestamp();
            var current = await store.FindByIdAsync(id, cancellationToken);
            if (current is null)
            {
                return Failure.NotFound("User");
            }

            var changed = change(current);
            if (changed.Failure is { } failure)
            {
                return failure;
            }

            var next = changed.Value!;
            var outcome = await store.UpdateAsync(next, keepAnActiveAdmin?.Invoke(current) ?? false, cancellationToken);
            switch (outcome)
            {
                case WriteOutcome.Written:
                    return await store.FindByIdAsync(id, cancellationToken) ?? next;
                case WriteOutcome.LastAdmin:
                    return Failure.Conflict("last_admin", "This is the last active admin; promote another admin first.");
                case WriteOutcome.EmailTaken:
                    return Failure.Conflict("email_taken", "Another account already uses this email address.");
            }

            lost = Stopwatch.GetElapsedTime(started);
        }

        return new Failure(FailureKind.Conflict, "concurrent_update", "The user was changed concurrently; try again.");
    }
}
