using IronAuth.Core.Limits;

namespace IronAuth.Core.Budgets;

/// <summary>
/// The budget protocol's arithmetic and checks, in one place for both stores: each store reads the budget (and the IC
/// token and lease a call names) inside its atomic step, asks the ledger, and writes what the ledger returns under the
/// same precondition. Nothing here does I/O or reads a clock.
/// </summary>
/// <remarks>
/// The invariant: <c>available = allocation − spent − Σ unspent(open leases)</c>, and a grant never exceeds
/// <c>available</c>, so <c>spent + Σ unspent(open leases) ≤ allocation</c> holds after every grant. Reports only move an
/// amount from a lease's unspent part to spent (keeping the sum) or, beyond the lease, add to spent (an overrun, which is
/// recorded rather than lost and makes <c>available</c> smaller for every later grant).
/// </remarks>
public static class BudgetLedger
{
    public const string ReasonClosed = "closed";
    public const string ReasonRefreshed = "refreshed";
    public const string ReasonExpired = "expired";
    public const string ReasonRevoked = "revoked";

    /// <summary>
    /// The checks every protocol call makes, in this order: the IC token is known, not revoked and not expired; the
    /// budget is not revoked and not expired. (The JWT's signature, type, audience and lifetime were checked before.)
    /// </summary>
    public static BudgetRefusal CheckAccess(Budget? budget, IcTokenRecord? token, IcCaller caller) =>
        budget is null || token is null || token.AgentId != caller.AgentId ? BudgetRefusal.UnknownIcToken
        : token.RevokedAt is not null ? BudgetRefusal.IcTokenRevoked
        : caller.Now >= token.ExpiresAt ? BudgetRefusal.IcTokenExpired
        : budget.RevokedAt is not null ? BudgetRefusal.BudgetRevoked
        : caller.Now >= budget.ExpiresAt ? BudgetRefusal.BudgetExpired
        : BudgetRefusal.None;

    /// <summary>What a grant writes: the budget after, the new lease, and the refreshed lease closed (if any).</summary>
    public sealed record GrantDecision(BudgetRefusal Refusal, Budget? Budget, Lease? NewLease, Lease? ClosedPrevious, long GrantedMicros, long CarriedMicros);

    /// <summary>
    /// A handshake (<paramref name="previous"/> null) or a refresh. The grant is the requested amount or, when less is
    /// available, what is left; nothing available (or the token cap reached) is <see cref="BudgetRefusal.BudgetExhausted"/>.
    /// A refresh closes the previous lease and carries its unspent part into the new one: that part stays reserved, it is
    /// neither returned nor granted twice. The new lease ends at the lease lifetime, the IC token's expiry or the budget's,
    /// whichever comes first.
    /// </summary>
    public static GrantDecision Grant(Budget budget, IcTokenRecord token, Lease? previous, LeaseGrantRequest request)
    {
        var caller = request.Caller;
        if (CheckAccess(budget, token, caller) is var denied && denied != BudgetRefusal.None)
        {
            return Refused(denied);
        }

        if (request.PreviousLeaseId is not null)
        {
            if (previous is null || previous.BudgetId != budget.Id || previous.Jti != caller.Jti)
            {
                return Refused(BudgetRefusal.LeaseNotFound);
            }

            if (!previous.IsOpenAt(caller.Now))
            {
                return Refused(BudgetRefusal.LeaseClosed);
            }
        }

        var granted = Math.Min(request.RequestedMicros, budget.AvailableMicros);
        if (granted <= 0 || budget.TokensExhausted)
        {
            return Refused(BudgetRefusal.BudgetExhausted);
        }

        var carried = previous?.UnspentMicros ?? 0;
        var expires = Min(caller.Now + request.LeaseLifetime, Min(token.ExpiresAt, budget.ExpiresAt));
        var lease = new Lease
        {
            Id = request.NewLeaseId,
            BudgetId = budget.Id,
            AgentId = caller.AgentId,
            Jti = caller.Jti,
            GrantedMicros = granted + carried,
            CreatedAt = caller.Now,
            ExpiresAt = expires,
        };
        var after = budget with
        {
            ReservedMicros = budget.ReservedMicros + granted,
            GrantedMicros = budget.GrantedMicros - (previous?.GrantedMicros ?? 0) + lease.GrantedMicros,
            OpenLeases = budget.OpenLeases + (previous is null ? 1 : 0),
        };
        var closed = previous is null ? null : previous with { ClosedAt = caller.Now, ClosedReason = ReasonRefreshed };
        return new GrantDecision(BudgetRefusal.None, after, lease, closed, granted, carried);

        static GrantDecision Refused(BudgetRefusal refusal) => new(refusal, null, null, null, 0, 0);
    }

    public sealed record ReportDecision(Budget Budget, Lease Lease, long LeaseRemainingMicros, bool Overrun);

    /// <summary>
    /// Counts a report against its lease. Within the lease's unspent part the cost moves from reserved to spent; beyond
    /// it, and on a lease that is no longer open at <paramref name="now"/> (a report that arrives after a close, refresh
    /// or expiry), it is still added to spent — usage is never lost — and the report is marked overrun. A lease past its
    /// expiry that maintenance has not closed yet still holds its reserve: the cost moves out of it as on an open
    /// lease, so the reserve maintenance returns later is what is left.
    /// </summary>
    public static ReportDecision Report(Budget budget, Lease lease, long tokens, long costMicros, DateTimeOffset now)
    {
        // Spend saturates instead of wrapping (QuotaRules.Saturating): reports beyond a lease are accepted, so nothing else
        // bounds their sum, and a wrapped total would read as money available again.
        var spent = QuotaRules.Saturating(lease.SpentMicros, costMicros);
        var updated = lease with { SpentMicros = spent, SpentTokens = QuotaRules.Saturating(lease.SpentTokens, tokens) };
        var reserved = budget.ReservedMicros;
        bool overrun;
        if (lease.IsOpen)
        {
            reserved += updated.UnspentMicros - lease.UnspentMicros;
            overrun = spent > lease.GrantedMicros || now >= lease.ExpiresAt;
        }
        else
        {
            overrun = true;
        }

        var after = budget with
        {
            SpentMicros = QuotaRules.Saturating(budget.SpentMicros, costMicros),
            SpentTokens = QuotaRules.Saturating(budget.SpentTokens, tokens),
            ReservedMicros = reserved,
        };
        return new ReportDecision(after, updated, updated.IsOpenAt(now) ? updated.UnspentMicros : 0, overrun);
    }

    /// <summary>
    /// A report whose <c>report_id</c> the budget already counted, for the lease <paramref name="earlierLeaseId"/>: a
    /// retry of it (same lease) answers as then and counts nothing more; the same id on another lease is refused
    /// (<see cref="BudgetRefusal.ReportIdTaken"/>), never taken for a retry.
    /// </summary>
    public static LeaseReportResult Repeated(Budget budget, Lease lease, string? earlierLeaseId, bool earlierOverrun, DateTimeOffset now) =>
        earlierLeaseId is not null && earlierLeaseId != lease.Id
            ? LeaseReportResult.Refused(BudgetRefusal.ReportIdTaken)
            : new LeaseReportResult(BudgetRefusal.None, lease.IsOpenAt(now) ? lease.UnspentMicros : 0, budget.AvailableMicros, earlierOverrun, Duplicate: true);

    /// <summary>Closes an open lease for <paramref name="reason"/>: its unspent part returns to the budget.</summary>
    public static (Budget Budget, Lease Lease, long Returned) Close(Budget budget, Lease lease, DateTimeOffset now, string reason)
    {
        var returned = lease.UnspentMicros;
        var after = budget with
        {
            ReservedMicros = budget.ReservedMicros - returned,
            GrantedMicros = budget.GrantedMicros - lease.GrantedMicros,
            OpenLeases = budget.OpenLeases - 1,
        };
        return (after, lease with { ClosedAt = now, ClosedReason = reason }, returned);
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;
}
