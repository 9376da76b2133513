namespace IronAuth.Core.Budgets;

/// <summary>Who makes a protocol call: the IC token's budget, jti and agent, at <see cref="Now"/>.</summary>
public sealed record IcCaller(string BudgetId, string Jti, string AgentId, DateTimeOffset Now);

/// <summary>A handshake (no <see cref="PreviousLeaseId"/>) or a refresh of <see cref="PreviousLeaseId"/>.</summary>
public sealed record LeaseGrantRequest(IcCaller Caller, string NewLeaseId, long RequestedMicros, TimeSpan LeaseLifetime, string? PreviousLeaseId);

/// <summary>What a grant did. The sealed credential is read in the same step, so a handshake costs one store call.</summary>
public sealed record LeaseGrantResult(BudgetRefusal Refusal, Lease? Lease, long GrantedMicros, long CarriedMicros, Budget? Budget)
{
    public string? Provider { get; init; }

    public byte[]? SealedCredential { get; init; }

    public static LeaseGrantResult Refused(BudgetRefusal refusal) => new(refusal, null, 0, 0, null);
}

public sealed record LeaseReportRequest(IcCaller Caller, string LeaseId, string ReportId, long Tokens, long CostMicros);

public sealed record LeaseReportResult(BudgetRefusal Refusal, long LeaseRemainingMicros, long BudgetRemainingMicros, bool Overrun, bool Duplicate)
{
    public static LeaseReportResult Refused(BudgetRefusal refusal) => new(refusal, 0, 0, false, false);
}

public sealed record LeaseCloseResult(BudgetRefusal Refusal, long ReturnedMicros, long BudgetRemainingMicros)
{
    public static LeaseCloseResult Refused(BudgetRefusal refusal) => new(refusal, 0, 0);
}

/// <summary>
/// What one agent's reports against one budget summed to over a range of UTC days: <paramref name="Requests"/> is the
/// number of reports counted (a retried <c>report_id</c> once), as the budget's own counters count them.
/// </summary>
public sealed record BudgetSpend(string BudgetId, string BudgetName, string OwnerId, string AgentId, long Requests, long Tokens, long CostMicros);

/// <summary>Changing an allocation: the budget after, or why not.</summary>
public enum AllocationOutcome
{
    Changed,
    NotFound,
    BelowSpent,
}

/// <summary>
/// Budgets, their IC tokens, leases, reports and per-agent spend: one aggregate per budget. Every call that moves money
/// (grant, report, close, expire, revoke an IC token) is one atomic step over the budget's counters and the leases it
/// touches — one write transaction on SQLite, ETag-conditional writes in one entity-group transaction within the budget's
/// partition on Table Storage — and checks, in that same step, that the IC token and the budget are still usable, so a
/// revocation stops every later call at once, on every instance. The arithmetic is <see cref="BudgetLedger"/>'s, shared by
/// both stores.
/// </summary>
public interface IBudgetStore
{
    Task CreateAsync(Budget budget, CancellationToken cancellationToken);

    Task<Budget?> FindAsync(string id, CancellationToken cancellationToken);

    /// <summary>Spend per agent (micros), over every lease the budget has had.</summary>
    Task<IReadOnlyDictionary<string, long>> SpendByAgentAsync(string id, CancellationToken cancellationToken);

    /// <summary>
    /// Reported spend per budget and agent from <paramref name="from"/> to <paramref name="to"/> (UTC days, inclusive), of
    /// <paramref name="ownerId"/>'s budgets only when given. Read from what the store keeps by day, never every budget's
    /// history.
    /// </summary>
    Task<IReadOnlyList<BudgetSpend>> ListSpendAsync(DateOnly from, DateOnly to, string? ownerId, CancellationToken cancellationToken);

    /// <summary>Budgets in id (creation) order, one owner's or everyone's, from <paramref name="position"/>.</summary>
    Task<Page<Budget>> ListAsync(string? userId, string? position, int limit, CancellationToken cancellationToken);

    /// <summary>Sets the allocation unless it would be below what is spent, checked atomically with the write.</summary>
    Task<(AllocationOutcome Outcome, Budget? Budget)> SetAllocationAsync(string id, long allocationMicros, CancellationToken cancellationToken);

    /// <summary>Marks the budget revoked; false when it is unknown or already revoked.</summary>
    Task<bool> RevokeAsync(string id, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Attaches (or replaces) the provider credential, sealed by <see cref="ProviderCredentials"/>; false for an unknown budget.</summary>
    Task<bool> SetCredentialAsync(string id, string provider, byte[] sealedSecret, CancellationToken cancellationToken);

    /// <summary>Remembers a minted IC token (for revocation by jti); false for an unknown budget.</summary>
    Task<bool> AddIcTokenAsync(IcTokenRecord token, CancellationToken cancellationToken);

    Task<IcTokenRecord?> FindIcTokenAsync(string budgetId, string jti, CancellationToken cancellationToken);

    /// <summary>
    /// Revokes one IC token and, in the same step, closes its open leases, returning their unspent parts to the budget;
    /// false when it is unknown or already revoked.
    /// </summary>
    Task<bool> RevokeIcTokenAsync(string budgetId, string jti, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>A handshake or a refresh (<see cref="BudgetLedger.Grant"/>).</summary>
    Task<LeaseGrantResult> GrantAsync(LeaseGrantRequest request, CancellationToken cancellationToken);

    /// <summary>Counts a report once per report id (<see cref="BudgetLedger.Report"/>).</summary>
    Task<LeaseReportResult> ReportAsync(LeaseReportRequest request, CancellationToken cancellationToken);

    /// <summary>Closes a lease, returning its unspent part (<see cref="BudgetLedger.Close"/>).</summary>
    Task<LeaseCloseResult> CloseAsync(IcCaller caller, string leaseId, CancellationToken cancellationToken);

    /// <summary>Closes up to <paramref name="batch"/> open leases past their expiry, returning their unspent parts; returns how many.</summary>
    Task<int> ExpireLeasesAsync(DateTimeOffset now, int batch, CancellationToken cancellationToken);

    /// <summary>Deletes up to <paramref name="batch"/> budgets that ended (revoked or expired) before <paramref name="threshold"/>, with everything of theirs.</summary>
    Task<int> PurgeAsync(DateTimeOffset threshold, int batch, CancellationToken cancellationToken);
}
