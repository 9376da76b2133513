using IronAuth.Core.Budgets;
using IronAuth.Core.Limits;

namespace IronAuth.Api.Contracts;

public sealed record CreateBudgetRequest
{
    public required string Name { get; init; }

    public string? UserId { get; init; }

    /// <summary>Up to 6 decimal places, like usage costs.</summary>
    public required decimal Allocation { get; init; }

    public long? LlmTokens { get; init; }

    public int? ExpiresInHours { get; init; }
}

public sealed record UpdateBudgetRequest
{
    public decimal? Allocation { get; init; }
}

/// <summary>
/// A budget: <c>granted</c> is what its open leases hold, <c>available</c> is allocation − spent − the unspent parts of
/// open leases (negative after overruns or a lowered allocation), <c>by_agent</c> is spend per agent. Never the credential.
/// </summary>
public sealed record BudgetResponse(
    string Id,
    string Name,
    string UserId,
    decimal Allocation,
    long? LlmTokens,
    decimal Granted,
    decimal Spent,
    long SpentTokens,
    decimal Available,
    IReadOnlyDictionary<string, decimal> ByAgent,
    int OpenLeases,
    string State,
    string? Provider,
    DateTimeOffset CreatedAt,
    DateTimeOffset ExpiresAt,
    DateTimeOffset? RevokedAt)
{
    public static BudgetResponse From(BudgetView view, DateTimeOffset now)
    {
        var b = view.Budget;
        return new(
            b.Id, b.Name, b.UserId, Money.FromMicros(b.AllocationMicros), b.LlmTokens, Money.FromMicros(b.GrantedMicros), Money.FromMicros(b.SpentMicros),
            b.SpentTokens, Money.FromMicros(b.AvailableMicros), view.ByAgent.ToDictionary(a => a.Key, a => Money.FromMicros(a.Value), StringComparer.Ordinal),
            b.OpenLeases, b.StateAt(now).ToString().ToLowerInvariant(), b.Provider, b.CreatedAt, b.ExpiresAt, b.RevokedAt);
    }
}

/// <summary>Write-only: the secret is sealed at once and never returned but by the handshake.</summary>
public sealed record SetProviderCredentialRequest
{
    public required string Provider { get; init; }

    public required string Secret { get; init; }
}

public sealed record MintIcTokenRequest
{
    public required string AgentId { get; init; }

    public IReadOnlyList<string>? Permissions { get; init; }

    public int? ExpiresInHours { get; init; }
}

public sealed record MintedIcTokenResponse(string Token, DateTimeOffset ExpiresAt, string Jti, string AgentId, string BudgetId);

public sealed record HandshakeRequest
{
    public required decimal RequestedBudget { get; init; }
}

/// <summary><c>partial</c>: less than requested was left, and this is all of it. <c>ip_token</c> only when a credential is attached.</summary>
public sealed record HandshakeResponse(
    string LeaseId, decimal BudgetGranted, decimal BudgetRemaining, DateTimeOffset LeaseExpiresAt, bool Partial, string? Provider, string? IpToken);

public sealed record BudgetReportRequest
{
    public required string LeaseId { get; init; }

    public required string ReportId { get; init; }

    public long Tokens { get; init; }

    public required decimal Cost { get; init; }

    /// <summary>When the call happened, by the runtime's clock; informational.</summary>
    public DateTimeOffset? Timestamp { get; init; }
}

/// <summary><c>duplicate</c>: this report_id was counted before and nothing was added now.</summary>
public sealed record BudgetReportResponse(decimal LeaseRemaining, decimal BudgetRemaining, bool Overrun, bool Duplicate);

public sealed record BudgetRefreshRequest
{
    public required string LeaseId { get; init; }

    public required decimal RequestedBudget { get; init; }
}

/// <summary><c>carried</c>: the old lease's unspent part, now in the new lease beside <c>budget_granted</c>.</summary>
public sealed record BudgetRefreshResponse(
    string LeaseId, decimal BudgetGranted, decimal Carried, decimal BudgetRemaining, DateTimeOffset LeaseExpiresAt, bool Partial);

public sealed record CloseLeaseResponse(decimal Returned, decimal BudgetRemaining);

/// <summary>
/// <c>GET /api/budgets/{id}/status</c>: how much of the allocation is spent and the risk that follows (low under 50%,
/// medium to 80%, high to 95%, critical to 100%, exhausted). <see cref="ShareSpent"/> is a fraction (0.5 = 50%).
/// </summary>
public sealed record BudgetStatusResponse(
    string Id, decimal Allocation, decimal Spent, decimal Available, decimal ShareSpent, string Risk, string State, DateTimeOffset ExpiresAt)
{
    public static BudgetStatusResponse From(Budget budget, DateTimeOffset now) => new(
        budget.Id,
        Money.FromMicros(budget.AllocationMicros),
        Money.FromMicros(budget.SpentMicros),
        Money.FromMicros(budget.AvailableMicros),
        BudgetRisks.ShareSpent(budget),
        BudgetRisks.Of(budget, now).ToString().ToLowerInvariant(),
        budget.StateAt(now).ToString().ToLowerInvariant(),
        budget.ExpiresAt);
}
