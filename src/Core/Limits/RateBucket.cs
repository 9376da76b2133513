namespace IronAuth.Core.Limits;

/// <summary>The state of a token bucket after one take.</summary>
/// <param name="Admitted">Whether the take got a token.</param>
/// <param name="Remaining">Whole tokens left after the take.</param>
/// <param name="RetryAfter">When not admitted, how long until one token is there.</param>
/// <param name="ResetAfter">How long until the bucket is full again.</param>
public sealed record BucketTake(bool Admitted, int Remaining, TimeSpan RetryAfter, TimeSpan ResetAfter)
{
    /// <summary>
    /// The longest wait a take reports. The bounds on limits (<see cref="TokenLimits"/>) keep every real wait
    /// below it (a full bucket of 1,000,000 at 0.001/s refills in 1e9 s); the clamp makes sure that limits from
    /// anywhere else (a stored token from before the bounds, a NaN) give a long wait instead of an exception:
    /// TimeSpan.FromSeconds throws beyond about 29,000 years, and such a throw once failed other callers' uses.
    /// </summary>
    public static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(1e9);

    /// <summary>The outcome for a bucket holding <paramref name="tokens"/> after the take.</summary>
    public static BucketTake From(bool admitted, double tokens, int capacity, double refillPerSecond)
    {
        var remaining = double.IsNaN(tokens) ? 0 : (int)Math.Clamp(Math.Floor(tokens), 0, Math.Max(0, capacity));
        var retry = admitted ? TimeSpan.Zero : Wait(Math.Max(0, 1 - tokens), refillPerSecond);
        var reset = Wait(Math.Max(0, capacity - tokens), refillPerSecond);
        return new BucketTake(admitted, remaining, retry, reset);
    }

    /// <summary>How long <paramref name="missing"/> tokens take to refill, within 0 to <see cref="MaxWait"/>.</summary>
    internal static TimeSpan Wait(double missing, double refillPerSecond)
    {
        var seconds = missing / refillPerSecond;
        // Not "seconds > max": NaN (0/0, or a NaN rate) must land on the long wait too.
        return missing <= 0 ? TimeSpan.Zero : seconds is >= 0 and < 1e9 ? TimeSpan.FromSeconds(seconds) : MaxWait;
    }
}

/// <summary>
/// A token bucket as stored: <paramref name="Level"/> tokens at <paramref name="At"/> (Unix milliseconds of the last
/// take). <see cref="Take"/> is the arithmetic of a take; each store applies it where no other writer can come
/// between its read and its write (SQLite: inside the write transaction; Table Storage: an ETag-conditional write).
/// </summary>
public readonly record struct BucketState(double Level, long At)
{
    /// <summary>When the bucket is full again if nothing more is taken (lets maintenance drop full buckets).</summary>
    public long FullAt(int capacity, double refillPerSecond) =>
        // Through BucketTake.Wait: within 0 to MaxWait whatever the inputs, so the sum cannot overflow a long.
        At + (long)BucketTake.Wait(capacity - Level, refillPerSecond).TotalMilliseconds;

    /// <summary>
    /// Takes one whole token at <paramref name="now"/> (Unix milliseconds) from <paramref name="stored"/> (null: a
    /// bucket seen for the first time, which starts full). The refill since the last take is never negative and the
    /// stored time never goes back, so a clock that runs behind in another process cannot refill twice. Returns the
    /// state to store, or null when the take is refused (nothing changes).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">
    /// The capacity is below 1 or the refill not a positive finite rate: limits are validated where they come in, so
    /// this is a bug, and it fails this one take before anything is stored (never a NaN level that a store would
    /// refuse in the middle of a write shared with other uses).
    /// </exception>
    public static BucketState? Take(BucketState? stored, int capacity, double refillPerSecond, long now, out BucketTake outcome)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        if (!(refillPerSecond > 0) || !double.IsFinite(refillPerSecond))
        {
            throw new ArgumentOutOfRangeException(nameof(refillPerSecond), refillPerSecond, "A bucket refills at a positive, finite rate.");
        }

        var level = stored is { } before
            ? Math.Min(capacity, before.Level + (Math.Max(0, now - before.At) * refillPerSecond / 1000.0))
            : capacity;
        if (level < 1)
        {
            outcome = BucketTake.From(false, level, capacity, refillPerSecond);
            return null;
        }

        var after = new BucketState(level - 1, Math.Max(stored?.At ?? now, now));
        outcome = BucketTake.From(true, after.Level, capacity, refillPerSecond);
        return after;
    }
}

/// <summary>
/// Token buckets (capacity = burst, refilled continuously at requests-per-second). A take is one atomic step
/// (<see cref="BucketState.Take"/> between a read and a write that no other writer can come between): under any
/// concurrency, across processes, a bucket never admits more than its capacity plus what refilled in the meantime.
/// </summary>
public interface IRateBucketStore
{
    /// <summary>Takes one token from bucket <paramref name="key"/>; a bucket seen for the first time starts full.</summary>
    Task<BucketTake> TakeAsync(string key, int capacity, double refillPerSecond, DateTimeOffset now, CancellationToken cancellationToken);
}
