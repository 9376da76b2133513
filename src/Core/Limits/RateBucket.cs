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
/// Token buckets (capacity = burst, refilled continuously at requests-per-second). A take is one atomic
/// conditional update: under any concurrency, across processes, a bucket never admits more than its
/// capacity plus what refilled in the meantime.
/// </summary>
public interface IRateBucketStore
{
    /// <summary>Takes one token from bucket <paramref name="key"/>; a bucket seen for the first time starts full.</summary>
    Task<BucketTake> TakeAsync(string key, int capacity, double refillPerSecond, DateTimeOffset now, CancellationToken cancellationToken);
}
