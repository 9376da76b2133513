namespace IronAuth.Core.Limits;

/// <summary>One use of an API token as metered: the bucket take and, when the bucket admitted it, the usage count.</summary>
/// <param name="Bucket">The take from the token's rate bucket.</param>
/// <param name="Usage">The quota-checked count of the use; null when the bucket refused.</param>
public sealed record MeteredUse(BucketTake Bucket, UsageOutcome? Usage)
{
    /// <summary>The answer of an earlier use with the same idempotency key, counted then and not again now.</summary>
    public bool Replayed { get; init; }

    /// <summary>Whether the use went through: admitted by the bucket and counted within the quotas.</summary>
    public bool Admitted => Bucket.Admitted && Usage is { Added: true };
}

/// <summary>What one use of a token asks of <see cref="IMeteringStore"/>.</summary>
public readonly record struct MeteringRequest(string TokenId, EffectiveLimits Limits, UsageDelta Delta, DateTimeOffset Now);

/// <summary>
/// The metering step of verifying an API token, as one store call: a take from the token's rate bucket
/// (<see cref="IRateBucketStore.TakeAsync"/>) and, when it admits, the use counted against the token's
/// daily quotas (<see cref="IUsageStore.TryAddAsync"/>, for the UTC day of <c>now</c>). Each part is atomic
/// with the same guarantees as the two calls; a use the quota refuses keeps its bucket take, as it would
/// with the two calls. One call instead of two lets a store do both in one round trip: the Table store keeps
/// a token's bucket and today's counters in one entity and writes them with one conditional update.
/// </summary>
public interface IMeteringStore
{
    Task<MeteredUse> TakeAndCountAsync(string tokenId, EffectiveLimits limits, UsageDelta delta, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Two uses as one step: <paramref name="first"/> (a caller's own credential) and, only when it went through
    /// (<see cref="MeteredUse.Admitted"/>), <paramref name="then"/> (the token it presents): a refused caller spends
    /// nothing of the other token. The second result is null when the first was refused. By default the two calls
    /// one after the other; SQLite decides both in one transaction of its group commit, so a gateway's verify waits
    /// for the writer once, not twice.
    /// </summary>
    async Task<(MeteredUse First, MeteredUse? Then)> TakeAndCountBothAsync(MeteringRequest first, MeteringRequest then, CancellationToken cancellationToken)
    {
        var metered = await TakeAndCountAsync(first.TokenId, first.Limits, first.Delta, first.Now, cancellationToken);
        return metered.Admitted
            ? (metered, await TakeAndCountAsync(then.TokenId, then.Limits, then.Delta, then.Now, cancellationToken))
            : (metered, null);
    }
}
