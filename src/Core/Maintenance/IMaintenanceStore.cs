namespace IronAuth.Core.Maintenance;

/// <summary>
/// Bounded deletes of what is no longer needed. Each call deletes at most <c>batch</c> rows and returns
/// how many it deleted; the job calls again while a call comes back full.
/// </summary>
public interface IMaintenanceStore
{
    /// <summary>Sessions that are revoked or past expiry, with their refresh tokens.</summary>
    Task<int> PurgeSessionsAsync(DateTimeOffset now, int batch, CancellationToken cancellationToken);

    /// <summary>Refresh tokens past expiry. Spent but unexpired ones stay: they are how reuse is detected.</summary>
    Task<int> PurgeRefreshTokensAsync(DateTimeOffset now, int batch, CancellationToken cancellationToken);

    /// <summary>API tokens revoked or expired before <paramref name="threshold"/>, with their buckets.</summary>
    Task<int> PurgeApiTokensAsync(DateTimeOffset threshold, int batch, CancellationToken cancellationToken);

    /// <summary>Password reset tickets that are spent or expired.</summary>
    Task<int> PurgePasswordResetsAsync(DateTimeOffset now, int batch, CancellationToken cancellationToken);

    /// <summary>Rate buckets that have refilled to capacity by <paramref name="now"/>: deleting one changes nothing, as a new bucket starts full.</summary>
    Task<int> PurgeFullBucketsAsync(DateTimeOffset now, int batch, CancellationToken cancellationToken);

    /// <summary>Daily usage rows of days before <paramref name="before"/>.</summary>
    Task<int> PurgeUsageAsync(DateOnly before, int batch, CancellationToken cancellationToken);

    /// <summary>Idempotency keys of usage reports (and the answers kept with them) stored before <paramref name="before"/>.</summary>
    Task<int> PurgeUsageRequestsAsync(DateTimeOffset before, int batch, CancellationToken cancellationToken);

    /// <summary>Emailed codes that are spent or expired by <paramref name="now"/> (a code out of tries goes when it expires).</summary>
    Task<int> PurgeEmailCodesAsync(DateTimeOffset now, int batch, CancellationToken cancellationToken);

    /// <summary>Pending two-factor sign-ins (the challenges behind <c>mfa_token</c>s) that are spent or expired by <paramref name="now"/>.</summary>
    Task<int> PurgeMfaChallengesAsync(DateTimeOffset now, int batch, CancellationToken cancellationToken);
}

/// <summary>Named leases, so only one instance runs a job at a time.</summary>
public interface ILeaseStore
{
    /// <summary>
    /// Takes lease <paramref name="name"/> for <paramref name="holder"/> until <paramref name="until"/> if it is
    /// free, lapsed, or already this holder's — one conditional write, so of concurrent callers one wins.
    /// </summary>
    Task<bool> TryAcquireAsync(string name, string holder, DateTimeOffset until, DateTimeOffset now, CancellationToken cancellationToken);

    Task ReleaseAsync(string name, string holder, DateTimeOffset now, CancellationToken cancellationToken);
}
