namespace IronAuth.Core.Budgets;

/// <summary>
/// An allocation owned by a user, as stored. Amounts are whole millionths (micros, see <see cref="Limits.Money"/>), so
/// every sum the ledger keeps is exact integer arithmetic in both stores.
/// </summary>
public sealed record Budget
{
    public required string Id { get; init; }

    public required string UserId { get; init; }

    public required string Name { get; init; }

    public required long AllocationMicros { get; init; }

    /// <summary>An optional cap on the LLM tokens reported against the budget; null for none.</summary>
    public long? LlmTokens { get; init; }

    /// <summary>Everything reported, overruns included.</summary>
    public long SpentMicros { get; init; }

    public long SpentTokens { get; init; }

    /// <summary>What the open leases were granted (carried-over parts included).</summary>
    public long GrantedMicros { get; init; }

    /// <summary>The unspent parts of the open leases: what runtimes may still spend without asking.</summary>
    public long ReservedMicros { get; init; }

    public int OpenLeases { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public required DateTimeOffset ExpiresAt { get; init; }

    public DateTimeOffset? RevokedAt { get; init; }

    /// <summary>The provider named with the attached credential, if one is attached; the credential itself is never here.</summary>
    public string? Provider { get; init; }

    /// <summary>
    /// allocation − spent − the unspent parts of open leases; negative after overruns or a lowered allocation. Computed
    /// wide, so that a saturated spend cannot wrap it.
    /// </summary>
    public long AvailableMicros => (long)Int128.Clamp((Int128)AllocationMicros - SpentMicros - ReservedMicros, long.MinValue, long.MaxValue);

    public bool TokensExhausted => LlmTokens is { } cap && SpentTokens >= cap;

    /// <summary>When the budget stopped for good (revoked, or its expiry), or its expiry if it is still running.</summary>
    public DateTimeOffset EndsAt => RevokedAt is { } revoked && revoked < ExpiresAt ? revoked : ExpiresAt;

    public BudgetState StateAt(DateTimeOffset now) =>
        RevokedAt is not null ? BudgetState.Revoked
        : now >= ExpiresAt ? BudgetState.Expired
        : AvailableMicros <= 0 || TokensExhausted ? BudgetState.Exhausted
        : BudgetState.Active;
}

public enum BudgetState
{
    Active,
    Exhausted,
    Revoked,
    Expired,
}

/// <summary>An IC token as the store remembers it: enough to revoke it by <c>jti</c>; the JWT itself is never stored.</summary>
public sealed record IcTokenRecord
{
    public required string Jti { get; init; }

    public required string BudgetId { get; init; }

    public required string AgentId { get; init; }

    public required IReadOnlyList<string> Permissions { get; init; }

    public required DateTimeOffset IssuedAt { get; init; }

    public required DateTimeOffset ExpiresAt { get; init; }

    public DateTimeOffset? RevokedAt { get; init; }
}

/// <summary>A slice of a budget granted to one runtime (one IC token).</summary>
public sealed record Lease
{
    public required string Id { get; init; }

    public required string BudgetId { get; init; }

    public required string AgentId { get; init; }

    public required string Jti { get; init; }

    /// <summary>What the lease may spend: its grant plus the unspent part carried over from the lease it refreshed.</summary>
    public required long GrantedMicros { get; init; }

    public long SpentMicros { get; init; }

    public long SpentTokens { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public required DateTimeOffset ExpiresAt { get; init; }

    public DateTimeOffset? ClosedAt { get; init; }

    /// <summary><c>closed</c>, <c>refreshed</c>, <c>expired</c> or <c>revoked</c>; null while open.</summary>
    public string? ClosedReason { get; init; }

    /// <summary>Not closed yet: its unspent part is still reserved in the budget (until maintenance closes it, if expired).</summary>
    public bool IsOpen => ClosedAt is null;

    /// <summary>
    /// Usable at <paramref name="now"/>: open and before its <see cref="ExpiresAt"/>. A lease past its expiry takes no
    /// refresh or close and its reports are overruns, whether or not maintenance has closed it yet.
    /// </summary>
    public bool IsOpenAt(DateTimeOffset now) => IsOpen && now < ExpiresAt;

    /// <summary>The unspent part: what the runtime may still spend, and what closing it returns.</summary>
    public long UnspentMicros => Math.Max(0, GrantedMicros - SpentMicros);
}

/// <summary>A report already counted, kept so a retried <c>report_id</c> counts once.</summary>
public sealed record LeaseReportRecord(string ReportId, string LeaseId, long CostMicros, long Tokens, bool Overrun, DateTimeOffset At);

/// <summary>Why a budget protocol call was refused. Each maps to one stable problem code at the edge.</summary>
public enum BudgetRefusal
{
    None,

    /// <summary>The IC token names a budget or jti the store does not know (never minted, or purged).</summary>
    UnknownIcToken,
    IcTokenRevoked,
    IcTokenExpired,
    BudgetRevoked,
    BudgetExpired,
    BudgetExhausted,
    LeaseNotFound,
    LeaseClosed,

    /// <summary>The IC token lacks the protocol permission for this call.</summary>
    NotPermitted,

    /// <summary>The budget's owner is suspended or deleted.</summary>
    OwnerInactive,

    /// <summary>The report id was counted for another lease of the budget (a retry repeats the lease it was sent with).</summary>
    ReportIdTaken,

    /// <summary>Too many concurrent writers kept winning the budget's conditional write; the caller may retry.</summary>
    Busy,
}
