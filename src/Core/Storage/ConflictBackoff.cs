namespace IronAuth.Core.Storage;

/// <summary>
/// The wait before re-reading after a lost optimistic-concurrency race: a random time up to a bound that doubles per
/// attempt ("full jitter", capped at 256 × the first bound), so contenders spread out instead of colliding again in
/// lockstep. It waits on the real clock, not the injected TimeProvider: this is pacing against other writers, not
/// domain time, and a test's fake clock would never let it finish.
/// </summary>
public static class ConflictBackoff
{
    public static Task DelayAsync(TimeSpan firstBound, int attempt, CancellationToken cancellationToken)
    {
        var bound = firstBound.TotalMilliseconds * (1L << Math.Clamp(attempt, 0, 8));
        var delay = TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * bound);
        return delay <= TimeSpan.Zero ? Task.CompletedTask : Task.Delay(delay, cancellationToken);
    }
}
