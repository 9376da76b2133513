using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using IronAuth.Core.Audit;
using IronAuth.Core.Caching;
using IronAuth.Core.Configuration;
using IronAuth.Core.Limits;
using IronAuth.Core.Users;
using Microsoft.Extensions.Options;

namespace IronAuth.Core.Budgets;

public sealed record NewBudget(string OwnerId, string Name, decimal Allocation, long? LlmTokens, int? ExpiresInHours);

/// <summary>A budget with its spend per agent (micros), as read for display.</summary>
public sealed record BudgetView(Budget Budget, IReadOnlyDictionary<string, long> ByAgent);

/// <summary>A minted IC token: the JWT is here and nowhere else (the store keeps only its jti).</summary>
public sealed record MintedIcToken(string Token, string Jti, DateTimeOffset ExpiresAt);

public sealed record Handshake(Lease Lease, decimal Granted, decimal Remaining, bool Partial, string? Provider, string? IpToken);

public sealed record Refreshed(Lease Lease, decimal Granted, decimal Carried, decimal Remaining, bool Partial);

public sealed record Reported(decimal LeaseRemaining, decimal BudgetRemaining, bool Overrun, bool Duplicate);

public sealed record Closed(decimal Returned, decimal BudgetRemaining);

/// <summary>
/// The rules for budgets and the budget protocol: validation, who may do what is the edge's (permissions), lifetimes,
/// sealing the provider credential, minting IC tokens, mapping store refusals to stable codes, and audit entries (never
/// a token, never a secret). Every amount crosses the edge as a decimal with at most six places and is micros inside.
/// </summary>
/// <remarks>
/// <c>budget_exhausted</c> is 402 Payment Required, not 429: waiting does not refill a budget (only an admin raising the
/// allocation or other leases returning their unspent parts do), and clients retry a 429 with back-off by default.
/// </remarks>
public sealed class BudgetManager(
    IBudgetStore store,
    IUserStore users,
    IAuditStore audit,
    IcTokens icTokens,
    ProviderCredentials credentials,
    CredentialCache cache,
    IOptions<IronAuthOptions> options,
    TimeProvider time)
{
    // Budgets whose owner is kept in process; beyond it the map starts over (a budget's owner never changes).
    private const int MaxKnownOwners = 10_000;

    private readonly ConcurrentDictionary<string, string> owners = new(StringComparer.Ordinal);

    private BudgetOptions Settings => options.Value.Budgets;

    public async Task<Result<Budget>> CreateAsync(Actor actor, NewBudget request, CancellationToken cancellationToken)
    {
        if ((BudgetRules.CheckName(request.Name) ?? BudgetRules.CheckAmount(request.Allocation, "allocation")) is { } invalid)
        {
            return invalid;
        }

        if (request.LlmTokens is <= 0)
        {
            return Failure.Validation("llm_tokens must be a positive number of tokens.");
        }

        // Compared as numbers: TimeSpan.FromHours throws for a count past ~256 million hours.
        if (request.ExpiresInHours is { } hours && (hours <= 0 || hours > Settings.MaxLifetime.TotalHours))
        {
            return Failure.Validation($"expires_in_hours must be from 1 to {(int)Settings.MaxLifetime.TotalHours}.");
        }

        if (!Ids.IsWellFormed(request.OwnerId) || await users.FindByIdAsync(request.OwnerId, cancellationToken) is not { IsActive: true })
        {
            return Failure.NotFound("User");
        }

        var now = time.GetUtcNow();
        var budget = new Budget
        {
            Id = Ids.New(time),
            UserId = request.OwnerId,
            Name = request.Name,
            AllocationMicros = Money.ToMicros(request.Allocation),
            LlmTokens = request.LlmTokens,
            CreatedAt = now,
            ExpiresAt = now + (request.ExpiresInHours is { } h ? TimeSpan.FromHours(h) : Settings.DefaultLifetime),
        };
        await store.CreateAsync(budget, cancellationToken);
        await AuditAsync(actor, BudgetAuditActions.Created, budget.Id, ("user_id", budget.UserId), ("allocation", Text(budget.AllocationMicros)));
        return budget;
    }

    public async Task<Result<Budget>> GetAsync(string id, CancellationToken cancellationToken) =>
        Ids.IsWellFormed(id) && await store.FindAsync(id, cancellationToken) is { } budget ? budget : Failure.NotFound("Budget");

    public async Task<BudgetView> ViewAsync(Budget budget, CancellationToken cancellationToken) =>
        new(budget, await store.SpendByAgentAsync(budget.Id, cancellationToken));

    public Task<Page<Budget>> ListAsync(string? userId, string? position, int limit, CancellationToken cancellationToken) =>
        store.ListAsync(userId, position, limit, cancellationToken);

    public async Task<Result<Budget>> SetAllocationAsync(Actor actor, Budget budget, decimal allocation, CancellationToken cancellationToken)
    {
        if (BudgetRules.CheckAmount(allocation, "allocation", allowZero: true) is { } invalid)
        {
            return invalid;
        }

        var (outcome, changed) = await store.SetAllocationAsync(budget.Id, Money.ToMicros(allocation), cancellationToken);
        switch (outcome)
        {
            case AllocationOutcome.NotFound:
                return Failure.NotFound("Budget");
            case AllocationOutcome.BelowSpent:
                return Failure.Conflict("allocation_below_spent", "The allocation cannot be set below what the budget has already spent.");
        }

        await AuditAsync(actor, BudgetAuditActions.Updated, budget.Id, ("allocation", Text(changed!.AllocationMicros)), ("previous_allocation", Text(budget.AllocationMicros)));
        return changed;
    }

    public async Task RevokeAsync(Actor actor, Budget budget, CancellationToken cancellationToken)
    {
        if (await store.RevokeAsync(budget.Id, time.GetUtcNow(), cancellationToken))
        {
            await AuditAsync(actor, BudgetAuditActions.Revoked, budget.Id);
        }
    }

    public async Task<Failure?> SetCredentialAsync(Actor actor, Budget budget, string provider, string secret, CancellationToken cancellationToken)
    {
        if (!BudgetRules.IsValidAgentId(provider) || provider.Length > BudgetRules.MaxProviderLength)
        {
            return Failure.Validation($"provider must be 1 to {BudgetRules.MaxProviderLength} letters, digits or . _ - : @.");
        }

        if (string.IsNullOrEmpty(secret) || secret.Length > BudgetRules.MaxSecretLength)
        {
            return Failure.Validation($"secret must be 1 to {BudgetRules.MaxSecretLength} characters.");
        }

        if (!credentials.CanSeal)
        {
            return Failure.Conflict("credential_key_missing", "Provider credentials cannot be stored: IronAuth:Budgets:CredentialKey is not configured.");
        }

        if (!await store.SetCredentialAsync(budget.Id, provider, credentials.Seal(budget.Id, secret), cancellationToken))
        {
            return Failure.NotFound("Budget");
        }

        // The provider's name only: the secret is in no audit entry, log line or response.
        await AuditAsync(actor, BudgetAuditActions.CredentialSet, budget.Id, ("provider", provider));
        return null;
    }

    public async Task<Result<MintedIcToken>> MintAsync(
        Actor actor, Budget budget, string agentId, IReadOnlyList<string>? permissions, int? expiresInHours, CancellationToken cancellationToken)
    {
        if (!BudgetRules.IsValidAgentId(agentId))
        {
            return Failure.Validation($"agent_id must be 1 to {BudgetRules.MaxAgentIdLength} letters, digits or . _ - : @.");
        }

        if (permissions?.FirstOrDefault(p => !BudgetRules.ProtocolPermissions.Contains(p)) is { } unknown)
        {
            return Failure.Validation($"Unknown permission '{unknown}'. Permissions: {string.Join(", ", BudgetRules.ProtocolPermissions)}.");
        }

        if (permissions is { Count: 0 })
        {
            return Failure.Validation("permissions, when given, must name at least one permission.");
        }

        // Bounded so that the signing key stays published until the token expires, across rotations (PassiveWindow).
        if (expiresInHours is { } hours && (hours <= 0 || hours > Settings.MaxIcTokenLifetime.TotalHours))
        {
            return Failure.Validation(
                $"expires_in_hours must be from 1 to {(int)Settings.MaxIcTokenLifetime.TotalHours} (IronAuth:Budgets:MaxIcTokenLifetime).");
        }

        // JWT times have whole-second resolution; the stored expiry is the token's exp exactly.
        var now = DateTimeOffset.FromUnixTimeSeconds(time.GetUtcNow().ToUnixTimeSeconds());
        if (budget.StateAt(now) is BudgetState.Revoked or BudgetState.Expired)
        {
            return Failure.Conflict("budget_ended", "The budget is revoked or expired; no IC token can be minted for it.");
        }

        var expires = now + (expiresInHours is { } h ? TimeSpan.FromHours(h) : Settings.IcTokenLifetime);
        if (expires > budget.ExpiresAt)
        {
            expires = DateTimeOffset.FromUnixTimeSeconds(budget.ExpiresAt.ToUnixTimeSeconds());
        }

        var record = new IcTokenRecord
        {
            Jti = Ids.NewSecret(16),
            BudgetId = budget.Id,
            AgentId = agentId,
            Permissions = [.. (permissions ?? BudgetRules.ProtocolPermissions).Distinct(StringComparer.Ordinal)],
            IssuedAt = now,
            ExpiresAt = expires,
        };
        if (!await store.AddIcTokenAsync(record, cancellationToken))
        {
            return Failure.NotFound("Budget");
        }

        var token = await icTokens.IssueAsync(record);
        await AuditAsync(actor, BudgetAuditActions.IcTokenMinted, budget.Id, ("jti", record.Jti), ("agent_id", agentId));
        return new MintedIcToken(token, record.Jti, expires);
    }

    public async Task<Failure?> RevokeIcTokenAsync(Actor actor, Budget budget, string jti, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(jti) || jti.Length > 64 || await store.FindIcTokenAsync(budget.Id, jti, cancellationToken) is null)
        {
            return Failure.NotFound("IC token");
        }

        if (await store.RevokeIcTokenAsync(budget.Id, jti, time.GetUtcNow(), cancellationToken))
        {
            await AuditAsync(actor, BudgetAuditActions.IcTokenRevoked, budget.Id, ("jti", jti));
        }

        return null;
    }

    public async Task<Result<Handshake>> HandshakeAsync(IcTokenClaims claims, decimal requested, string? clientIp, CancellationToken cancellationToken)
    {
        if ((Permit(claims, BudgetRules.Handshake) ?? BudgetRules.CheckAmount(requested, "requested_budget") ?? await CheckOwnerAsync(claims, cancellationToken)) is { } refused)
        {
            return refused;
        }

        var caller = Caller(claims);
        var result = await store.GrantAsync(
            new LeaseGrantRequest(caller, Ids.New(time), Money.ToMicros(requested), Settings.LeaseLifetime, null), cancellationToken);
        if (result.Refusal != BudgetRefusal.None)
        {
            return FailureOf(result.Refusal);
        }

        string? ipToken = null;
        if (result.SealedCredential is { } sealedSecret)
        {
            try
            {
                ipToken = credentials.Open(claims.BudgetId, sealedSecret);
            }
            catch (CryptographicException)
            {
                // Altered at rest, or moved from another budget: treated like a key that does not open it.
            }

            if (ipToken is null)
            {
                // The runtime never hears of this lease, so it is closed at once rather than held until it expires.
                await store.CloseAsync(Caller(claims), result.Lease!.Id, CancellationToken.None);
                return new Failure(FailureKind.Unavailable, "credential_unavailable",
                    "The budget's provider credential cannot be opened with the configured IronAuth:Budgets:CredentialKey.") { RetryAfter = TimeSpan.FromSeconds(60) };
            }
        }

        await AuditAgentAsync(claims, clientIp, BudgetAuditActions.Handshake, ("lease_id", result.Lease!.Id), ("granted", Text(result.GrantedMicros)));
        return new Handshake(
            result.Lease, Money.FromMicros(result.GrantedMicros), Money.FromMicros(result.Budget!.AvailableMicros),
            result.GrantedMicros < Money.ToMicros(requested), result.Provider, ipToken);
    }

    public async Task<Result<Refreshed>> RefreshAsync(IcTokenClaims claims, string leaseId, decimal requested, string? clientIp, CancellationToken cancellationToken)
    {
        if ((Permit(claims, BudgetRules.Refresh) ?? BudgetRules.CheckAmount(requested, "requested_budget") ?? CheckLeaseId(leaseId)
             ?? await CheckOwnerAsync(claims, cancellationToken)) is { } refused)
        {
            return refused;
        }

        var result = await store.GrantAsync(
            new LeaseGrantRequest(Caller(claims), Ids.New(time), Money.ToMicros(requested), Settings.LeaseLifetime, leaseId), cancellationToken);
        if (result.Refusal != BudgetRefusal.None)
        {
            return FailureOf(result.Refusal);
        }

        await AuditAgentAsync(
            claims, clientIp, BudgetAuditActions.Refreshed,
            ("lease_id", result.Lease!.Id), ("previous_lease_id", leaseId), ("granted", Text(result.GrantedMicros)), ("carried", Text(result.CarriedMicros)));
        return new Refreshed(
            result.Lease, Money.FromMicros(result.GrantedMicros), Money.FromMicros(result.CarriedMicros), Money.FromMicros(result.Budget!.AvailableMicros),
            result.GrantedMicros < Money.ToMicros(requested));
    }

    /// <summary>Counts usage; not audited (one per LLM call), the lease and budget counters are its record.</summary>
    public async Task<Result<Reported>> ReportAsync(
        IcTokenClaims claims, string leaseId, string reportId, long tokens, decimal cost, CancellationToken cancellationToken)
    {
        if ((Permit(claims, BudgetRules.Report) ?? CheckLeaseId(leaseId) ?? BudgetRules.CheckAmount(cost, "cost", allowZero: true)) is { } refused)
        {
            return refused;
        }

        if (!BudgetRules.IsValidReportId(reportId))
        {
            return Failure.Validation($"report_id must be 1 to {BudgetRules.MaxReportIdLength} letters, digits or . _ - : @.");
        }

        if (tokens is < 0 or > 1_000_000_000_000)
        {
            return Failure.Validation("tokens must be from 0 to 10^12.");
        }

        if (await CheckOwnerAsync(claims, cancellationToken) is { } inactive)
        {
            return inactive;
        }

        var result = await store.ReportAsync(new LeaseReportRequest(Caller(claims), leaseId, reportId, tokens, Money.ToMicros(cost)), cancellationToken);
        return result.Refusal != BudgetRefusal.None
            ? FailureOf(result.Refusal)
            : new Reported(Money.FromMicros(result.LeaseRemainingMicros), Money.FromMicros(result.BudgetRemainingMicros), result.Overrun, result.Duplicate);
    }

    public async Task<Result<Closed>> CloseAsync(IcTokenClaims claims, string leaseId, string? clientIp, CancellationToken cancellationToken)
    {
        if ((Permit(claims, BudgetRules.Close) ?? CheckLeaseId(leaseId) ?? await CheckOwnerAsync(claims, cancellationToken)) is { } refused)
        {
            return refused;
        }

        var result = await store.CloseAsync(Caller(claims), leaseId, cancellationToken);
        if (result.Refusal != BudgetRefusal.None)
        {
            return FailureOf(result.Refusal);
        }

        await AuditAgentAsync(claims, clientIp, BudgetAuditActions.LeaseClosed, ("lease_id", leaseId), ("returned", Text(result.ReturnedMicros)));
        return new Closed(Money.FromMicros(result.ReturnedMicros), Money.FromMicros(result.BudgetRemainingMicros));
    }

    /// <summary>The problem for a refusal: one stable code each (docs/budgets.md lists them).</summary>
    public static Failure FailureOf(BudgetRefusal refusal) => refusal switch
    {
        BudgetRefusal.UnknownIcToken => InvalidIcToken,
        BudgetRefusal.IcTokenRevoked => new(FailureKind.Unauthorized, "ic_token_revoked", "The IC token has been revoked."),
        BudgetRefusal.IcTokenExpired => new(FailureKind.Unauthorized, "ic_token_expired", "The IC token has expired."),
        BudgetRefusal.BudgetRevoked => new(FailureKind.Forbidden, "budget_revoked", "The budget has been revoked."),
        BudgetRefusal.BudgetExpired => new(FailureKind.Forbidden, "budget_expired", "The budget has expired."),
        BudgetRefusal.BudgetExhausted => new(FailureKind.PaymentRequired, "budget_exhausted", "Nothing of the budget's allocation is left to grant."),
        BudgetRefusal.LeaseNotFound => new(FailureKind.NotFound, "lease_not_found", "This IC token holds no lease with that id."),
        BudgetRefusal.LeaseClosed => Failure.Conflict("lease_closed", "The lease is closed (closed, refreshed, expired or revoked)."),
        BudgetRefusal.NotPermitted => Failure.Forbidden("The IC token does not permit this call."),
        BudgetRefusal.OwnerInactive => new(FailureKind.Unauthorized, "owner_inactive", "The budget's owner is suspended or deleted."),
        BudgetRefusal.ReportIdTaken => Failure.Conflict("report_id_taken", "This report_id was counted for another lease of the budget: report ids are unique per budget."),
        BudgetRefusal.Busy => new(FailureKind.Unavailable, "budget_busy", "Too many concurrent changes to this budget; try again.") { RetryAfter = TimeSpan.FromSeconds(1) },
        _ => throw new ArgumentOutOfRangeException(nameof(refusal), refusal, null),
    };

    public static Failure InvalidIcToken { get; } =
        new(FailureKind.Unauthorized, "invalid_ic_token", "Send a valid IC token (typ ic+jwt) as 'Authorization: Bearer <token>'.");

    private static Failure? Permit(IcTokenClaims claims, string permission) =>
        claims.Permissions.Contains(permission) ? null : FailureOf(BudgetRefusal.NotPermitted);

    /// <summary>
    /// A budget is its owner's money: while the owner is suspended or deleted its IC tokens do nothing, as the owner's API
    /// tokens do nothing (<c>owner_inactive</c>), and work again when an admin reactivates the owner. The owner is read
    /// through the credential cache the API tokens' check uses, so a suspension here is seen at once, in other
    /// instances within the cache's lifetime. An unknown budget is left to the store's own refusal.
    /// </summary>
    private async Task<Failure?> CheckOwnerAsync(IcTokenClaims claims, CancellationToken cancellationToken)
    {
        if (!owners.TryGetValue(claims.BudgetId, out var ownerId))
        {
            if (await store.FindAsync(claims.BudgetId, cancellationToken) is not { } budget)
            {
                return null;
            }

            if (owners.Count >= MaxKnownOwners)
            {
                owners.Clear();
            }

            ownerId = owners[claims.BudgetId] = budget.UserId;
        }

        var owner = await cache.GetUserAsync(ownerId, (users, ownerId), static s => s.users.FindByIdAsync(s.ownerId, CancellationToken.None));
        return owner is { IsActive: true } ? null : FailureOf(BudgetRefusal.OwnerInactive);
    }

    private static Failure? CheckLeaseId(string leaseId) => Ids.IsWellFormed(leaseId) ? null : FailureOf(BudgetRefusal.LeaseNotFound);

    private IcCaller Caller(IcTokenClaims claims) => new(claims.BudgetId, claims.Jti, claims.AgentId, time.GetUtcNow());

    private static string Text(long micros) => Money.FromMicros(micros).ToString(CultureInfo.InvariantCulture);

    private Task AuditAsync(Actor actor, string action, string budgetId, params (string Key, string Value)[] details) =>
        audit.AppendAsync(AuditEntry.Create(time, actor, action, "budget", budgetId, details.ToDictionary(d => d.Key, d => d.Value)), CancellationToken.None);

    private Task AuditAgentAsync(IcTokenClaims claims, string? clientIp, string action, params (string Key, string Value)[] details) =>
        AuditAsync(new Actor(null, "agent:" + claims.AgentId, clientIp), action, claims.BudgetId, [("jti", claims.Jti), .. details]);
}

/// <summary>The audit actions of budgets (beside <see cref="AuditActions"/>).</summary>
public static class BudgetAuditActions
{
    public const string Created = "budget.created";
    public const string Updated = "budget.updated";
    public const string Revoked = "budget.revoked";
    public const string CredentialSet = "budget.credential_set";
    public const string IcTokenMinted = "ic_token.minted";
    public const string IcTokenRevoked = "ic_token.revoked";
    public const string Handshake = "budget.handshake";
    public const string Refreshed = "budget.refreshed";
    public const string LeaseClosed = "budget.lease_closed";
}
