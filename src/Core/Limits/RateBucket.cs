namespace IronAuth.Core.Limits;

/// <summary>The state of a token bucket after one take.</summary>
/// <param name="Admitted">Whether the take got a token.</param>
/// <param name="Remaining">Whole tokens left after the take.</param>
/// <param name="RetryAfter">When not admitted, how long until one token is there.</param>
/// <param name="ResetAfter">How long until the bucket is full again.</param>
public sealed record BucketTake(bool Admitted, int Remaining, TimeSpan RetryAfter, TimeSpan ResetAfter)
{
    /// <summary>The outcome for a bucket holding <paramref name="tokens"/> after the take.</summary>
    public static BucketTake From(bool admitted, double tokens, int capacity, double refillPerSecond)
    {
        var remaining = Math.Clamp((int)Math.Floor(tokens), 0, capacity);
        var retry = admitted ? TimeSpan.Zero : TimeSpan.FromSeconds(Math.Max(0, 1 - tokens) / refillPerSecond);
        var reset = TimeSpan.FromSeconds(Math.Max(0, capacity - tokens) / refillPerSecond);
        return new BucketTake(admitted, remaining, retry, reset);
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
    public long FullAt(int capacity, double refillPerSecond) => At + (long)((capacity - Level) * 1000.0 / refillPerSecond);

    /// <summary>
    /// Takes one whole token at <paramref name="now"/> (Unix milliseconds) from <paramref name="stored"/> (null: a
    /// bucket seen for the first time, which starts full). The refill since the last take is never negative and the
    /// stored time never goes back, so a clock that runs behind in another process cannot refill twice. Returns the
    /// state to store, or null when the take is refused (nothing changes).
    /// </summary>
    public static BucketState? Take(BucketState? stored, int capacity, double refillPerSecond, long now, out BucketTake outcome)
    {
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
