using IronAuth.Core.Audit;
using IronAuth.Core.Caching;
using IronAuth.Core.Configuration;
using IronAuth.Core.Limits;
using IronAuth.Core.Users;
using Microsoft.Extensions.Options;

namespace IronAuth.Core.Tokens;

public sealed record NewApiToken(string OwnerId, string Name, IReadOnlyList<string>? Scopes, int? ExpiresInDays, TokenLimits Limits);

/// <summary>A created token: the plaintext is here and nowhere else, ever.</summary>
public sealed record IssuedApiToken(ApiToken Token, string Plaintext, int ExpiresInDays, bool Clamped, int RevokedOthers);

/// <summary>Who asks for a new token, as far as the token rules care.</summary>
/// <param name="Role">The creator's role: only an admin may grant limits above the configured defaults.</param>
/// <param name="TokenId">
/// The API token the creator authenticated with, if any: the new token is made from it, never outlives it nor
/// exceeds its limits, and is revoked with it.
/// </param>
/// <param name="Scopes">That token's effective scopes: the new token may not exceed them.</param>
public sealed record TokenCreator(Role Role, string? TokenId = null, IReadOnlySet<string>? Scopes = null)
{
    /// <summary>The local operator (the command line): an admin, with no token of its own.</summary>
    public static TokenCreator LocalOperator { get; } = new(Role.Admin);

    public static TokenCreator From(Caller caller) =>
        caller.Method == AuthMethod.ApiToken ? new(caller.Role, caller.TokenId, caller.Scopes) : new(caller.Role);
}

/// <summary>The result of recording usage after the fact.</summary>
public sealed record RecordedUsage(ApiToken Token, UsageDay Day, Quota Quota, QuotaKind Exhausted);

/// <summary>
/// The rules for API tokens: names, scopes within the owner's role, lifetime clamping, limits within their ceilings,
/// the cap on active tokens and the one-active-per-user policy, tokens made by tokens, revocation, usage history, and
/// audit entries.
/// </summary>
/// <remarks>
/// Ceilings on a new token's limits, each checked on what the request asks for (0 asks for nothing): a token made by
/// another token may ask for at most that token's effective limits and gets them where it asks for nothing, whoever
/// creates it; otherwise a non-admin may ask for at most the configured defaults (IronAuth:RateLimits, and
/// IronAuth:Quotas where they set a cap), and an admin for anything within <see cref="TokenLimits"/>' bounds.
/// Refusals are 403 <c>limit_above_ceiling</c> naming the limit and its ceiling.
/// </remarks>
public sealed class TokenManager(
    IApiTokenStore tokens,
    IUserStore users,
    IUsageStore usage,
    IAuditStore audit,
    CredentialCache cache,
    IOptions<IronAuthOptions> options,
    TimeProvider time)
{
    public const int MaxNameLength = 100;
    public const int MaxHistoryDays = 366;

    /// <param name="creator">Who creates the token; when it is itself an API token, the new token may not exceed it.</param>
    public async Task<Result<IssuedApiToken>> CreateAsync(
        Actor actor, NewApiToken request, TokenCreator creator, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request.Name) || request.Name.Length > MaxNameLength || request.Name.Any(char.IsControl))
        {
            return Failure.Validation($"name must be 1 to {MaxNameLength} characters without control characters.");
        }

        if (request.ExpiresInDays is <= 0)
        {
            return Failure.Validation("expires_in_days must be a positive number of days.");
        }

        if (request.Limits.Validate() is { } badLimits)
        {
            return badLimits;
        }

        if (!Ids.IsWellFormed(request.OwnerId) || await users.FindByIdAsync(request.OwnerId, cancellationToken) is not { } owner)
        {
            return Failure.NotFound("User");
        }

        if (!owner.IsActive)
        {
            return Failure.Conflict("owner_inactive", "Tokens cannot be issued to a suspended or deleted user.");
        }

        var now = time.GetUtcNow();
        ApiToken? parent = null;
        if (creator.TokenId is { } parentId)
        {
            parent = await tokens.FindByIdAsync(parentId, cancellationToken);
            if (parent is not { RevokedAt: null } || parent.ExpiresAt <= now)
            {
                return ParentInactive;
            }
        }

        var callerScopes = creator.Scopes;
        var ownerScopes = Permissions.Of(owner.Role);
        // Without scopes a token gets its owner's permissions, and no more than the token creating it holds.
        var scopes = request.Scopes?.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList()
            ?? [.. ownerScopes.Where(s => callerScopes is null || callerScopes.Contains(s)).Order(StringComparer.Ordinal)];
        if (scopes.FirstOrDefault(s => !Permissions.IsKnown(s)) is { } unknown)
        {
            return Failure.Validation($"Unknown scope '{unknown}'. Scopes: {string.Join(", ", Permissions.All)}.");
        }

        if (scopes.FirstOrDefault(s => !ownerScopes.Contains(s) || (callerScopes is not null && !callerScopes.Contains(s))) is { } beyond)
        {
            return Failure.Forbidden($"Scope '{beyond}' exceeds what the token's owner (or the creating token) holds.");
        }

        var tokenOptions = options.Value.Tokens;
        if (parent is not null && tokenOptions.OneActivePerUser && parent.UserId == owner.Id)
        {
            // The new token would revoke its own parent as one of the owner's others, and with it (revocation takes
            // descendants) itself.
            return Failure.Conflict(
                "one_active_per_user",
                "With IronAuth:Tokens:OneActivePerUser a token cannot make a token for its own owner: that would revoke the token it is made from, and with it the new one.");
        }

        var limits = request.Limits;
        if (parent is not null)
        {
            var ceiling = parent.Limits.Resolve(options.Value);
            if (Above(limits, ceiling) is { } over)
            {
                return LimitAboveCeiling(over.Name, over.Ceiling, "the creating token's own limit");
            }

            limits = Inherit(limits, ceiling);
        }
        else if (creator.Role != Role.Admin && Above(limits, Configured(options.Value)) is { } over)
        {
            return LimitAboveCeiling(over.Name, over.Ceiling, $"the configured default ({over.Setting}), which only an admin may exceed");
        }

        var days = request.ExpiresInDays ?? tokenOptions.DefaultLifetimeDays;
        var clamped = days > tokenOptions.MaxLifetimeDays;
        days = Math.Min(days, tokenOptions.MaxLifetimeDays);
        var expiresAt = now.AddDays(days);
        if (parent is not null && expiresAt > parent.ExpiresAt)
        {
            // A token never outlives the token that made it: cut to the parent's expiry, reported as clamped.
            expiresAt = parent.ExpiresAt;
            days = (int)Math.Ceiling((expiresAt - now).TotalDays);
            clamped = true;
        }

        var plaintext = ApiTokenFormat.New();
        var token = new ApiToken
        {
            Id = Ids.New(time),
            UserId = owner.Id,
            Name = request.Name,
            Prefix = ApiTokenFormat.DisplayPrefix(plaintext),
            Digest = Ids.Digest(plaintext),
            Scopes = scopes,
            Limits = limits,
            CreatedAt = now,
            ExpiresAt = expiresAt,
            ParentId = parent?.Id,
        };
        var created = await tokens.CreateAsync(token, tokenOptions.OneActivePerUser, tokenOptions.MaxActivePerUser, cancellationToken);
        switch (created.Refusal)
        {
            case ApiTokenRefusal.TooManyActive:
                return Failure.Conflict(
                    "too_many_tokens",
                    $"The user already holds {tokenOptions.MaxActivePerUser} active API tokens (IronAuth:Tokens:MaxActivePerUser); revoke one first.");
            case ApiTokenRefusal.ParentInactive:
                return ParentInactive;
        }

        var revoked = created.RevokedOthers;
        if (revoked > 0)
        {
            // The owner's other tokens (and what they made) were revoked in the store; their cached copies must not
            // outlive that here.
            cache.EvictTokensOf(owner.Id);
            cache.EvictTokensMadeByTokens();
        }
        await audit.AppendAsync(
            AuditEntry.Create(time, actor, AuditActions.TokenCreated, "token", token.Id, new Dictionary<string, string>
            {
                ["owner_id"] = owner.Id,
                ["name"] = token.Name,
                ["prefix"] = token.Prefix,
                ["scopes"] = string.Join(' ', scopes),
                ["expires_at"] = token.ExpiresAt.ToString("O"),
                ["revoked_others"] = revoked.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["parent_id"] = token.ParentId ?? "",
            }),
            CancellationToken.None);
        return new IssuedApiToken(token, plaintext, days, clamped, revoked);
    }

    public async Task<Result<ApiToken>> GetAsync(string id, CancellationToken cancellationToken) =>
        Ids.IsWellFormed(id) && await tokens.FindByIdAsync(id, cancellationToken) is { } token ? token : Failure.NotFound("Token");

    public Task<Page<ApiToken>> ListAsync(ApiTokenQuery query, CancellationToken cancellationToken) =>
        tokens.ListAsync(query with { Limit = Math.Clamp(query.Limit, 1, 200) }, cancellationToken);

    /// <summary>
    /// Revokes a token and the tokens made from it; revoking a revoked token is not an error (DELETE is idempotent,
    /// and repeating it finishes a revocation of descendants that failed part-way).
    /// </summary>
    /// <remarks>
    /// The store revokes the descendants in the same call, so the verifier needs no look at a token's parent at use:
    /// a child's own row says it is revoked. Here the cached copies go: this token, and every cached token that was
    /// made by a token (cheaper than working out which are descendants, and they are read again within one request).
    /// Other instances see it within IronAuth:Tokens:CacheTtl, as for any revocation.
    /// </remarks>
    public async Task<Result<ApiToken>> RevokeAsync(Actor actor, ApiToken token, CancellationToken cancellationToken)
    {
        var revoked = await tokens.RevokeAsync(token.Id, time.GetUtcNow(), cancellationToken);
        cache.EvictToken(token.Digest);
        cache.EvictTokensMadeByTokens();
        if (revoked)
        {
            await audit.AppendAsync(
                AuditEntry.Create(time, actor, AuditActions.TokenRevoked, "token", token.Id, new Dictionary<string, string>
                {
                    ["owner_id"] = token.UserId,
                    ["name"] = token.Name,
                    ["prefix"] = token.Prefix,
                }),
                CancellationToken.None);
        }

        return token;
    }

    /// <summary>
    /// Revokes every API token of a user (and the tokens made from them), for a user whose tokens must stop working
    /// for good (deleted); evicts them from the cache and audits how many were revoked, and why.
    /// </summary>
    public async Task<int> RevokeAllOfUserAsync(Actor actor, string userId, string reason, CancellationToken cancellationToken)
    {
        var revoked = await tokens.RevokeAllOfUserAsync(userId, time.GetUtcNow(), cancellationToken);
        cache.EvictTokensOf(userId);
        cache.EvictTokensMadeByTokens();
        if (revoked > 0)
        {
            await audit.AppendAsync(
                AuditEntry.Create(time, actor, AuditActions.TokenRevoked, "user", userId, new Dictionary<string, string>
                {
                    ["owner_id"] = userId,
                    ["reason"] = reason,
                    ["count"] = revoked.ToString(System.Globalization.CultureInfo.InvariantCulture),
                }),
                CancellationToken.None);
        }

        return revoked;
    }

    /// <summary>Records usage that already happened (it always counts) and reports any exhausted quota.</summary>
    public Task<Result<RecordedUsage>> RecordUsageAsync(string id, long requests, long llmTokens, decimal cost, CancellationToken cancellationToken) =>
        RecordUsageAsync(id, requests, llmTokens, cost, null, cancellationToken);

    /// <param name="detail">The report's idempotency key and model breakdown, or null; a repeated key answers with the day as the first report left it.</param>
    public async Task<Result<RecordedUsage>> RecordUsageAsync(string id, long requests, long llmTokens, decimal cost, UsageDetail? detail, CancellationToken cancellationToken)
    {
        if (UsageBounds.Check(requests, llmTokens, cost) is { } invalid)
        {
            return invalid;
        }

        if (await GetAsync(id, cancellationToken) is not { Value: { } token })
        {
            return Failure.NotFound("Token");
        }

        var day = await usage.AddAsync(token.Id, UsageDay.DayOf(time.GetUtcNow()), new UsageDelta(requests, llmTokens, Money.ToMicros(cost)) { Detail = detail }, cancellationToken);
        var quota = token.Limits.Resolve(options.Value).Quota;
        return new RecordedUsage(token, day, quota, QuotaRules.Exhausted(day, quota));
    }

    /// <summary>The last <paramref name="days"/> UTC days of usage, newest first, with zeros for idle days.</summary>
    public async Task<IReadOnlyList<UsageDay>> HistoryAsync(ApiToken token, int days, CancellationToken cancellationToken)
    {
        var to = UsageDay.DayOf(time.GetUtcNow());
        var from = to.AddDays(-(days - 1));
        var stored = (await usage.ListAsync(token.Id, from, to, cancellationToken)).ToDictionary(d => d.Day);
        return [.. Enumerable.Range(0, days).Select(i => to.AddDays(-i)).Select(d => stored.GetValueOrDefault(d) ?? new UsageDay(token.Id, d, 0, 0, 0))];
    }

    private static readonly Failure ParentInactive =
        Failure.Conflict("parent_inactive", "The API token creating this one has been revoked or has expired.");

    private static Failure LimitAboveCeiling(string name, string ceiling, string what) =>
        new(FailureKind.Forbidden, "limit_above_ceiling", $"limits.{name} may be at most {ceiling}: {what}.");

    /// <summary>The configured defaults as ceilings; a quota the configuration leaves uncapped (0) has none.</summary>
    private static EffectiveLimits Configured(IronAuthOptions options) => new(
        options.RateLimits.RequestsPerSecond,
        options.RateLimits.Burst,
        new Quota(options.Quotas.DailyRequests, options.Quotas.DailyTokens, Money.ToMicros(options.Quotas.DailyCost)));

    /// <summary>The first limit that <paramref name="requested"/> sets above <paramref name="ceiling"/> (0 asks for nothing; a 0 quota ceiling is none).</summary>
    private static (string Name, string Ceiling, string Setting)? Above(TokenLimits requested, EffectiveLimits ceiling)
    {
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        if (requested.RequestsPerSecond > ceiling.RequestsPerSecond)
        {
            return ("requests_per_second", ceiling.RequestsPerSecond.ToString(invariant), "IronAuth:RateLimits:RequestsPerSecond");
        }

        if (requested.Burst > ceiling.Burst)
        {
            return ("burst", ceiling.Burst.ToString(invariant), "IronAuth:RateLimits:Burst");
        }

        var quota = ceiling.Quota;
        if (quota.DailyRequests > 0 && requested.DailyRequests > quota.DailyRequests)
        {
            return ("daily_requests", quota.DailyRequests.ToString(invariant), "IronAuth:Quotas:DailyRequests");
        }

        if (quota.DailyTokens > 0 && requested.DailyTokens > quota.DailyTokens)
        {
            return ("daily_tokens", quota.DailyTokens.ToString(invariant), "IronAuth:Quotas:DailyTokens");
        }

        return quota.DailyCostMicros > 0 && Money.ToMicros(requested.DailyCost) > quota.DailyCostMicros
            ? ("daily_cost", Money.FromMicros(quota.DailyCostMicros).ToString(invariant), "IronAuth:Quotas:DailyCost")
            : null;
    }

    /// <summary>The requested limits, with the parent's effective limit wherever the request asks for nothing.</summary>
    private static TokenLimits Inherit(TokenLimits requested, EffectiveLimits parent)
    {
        var own = parent.ToTokenLimits();
        return new TokenLimits(
            requested.RequestsPerSecond > 0 ? requested.RequestsPerSecond : own.RequestsPerSecond,
            requested.Burst > 0 ? requested.Burst : own.Burst,
            requested.DailyRequests > 0 ? requested.DailyRequests : own.DailyRequests,
            requested.DailyTokens > 0 ? requested.DailyTokens : own.DailyTokens,
            requested.DailyCost > 0 ? requested.DailyCost : own.DailyCost);
    }
}
