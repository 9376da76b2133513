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

/// <summary>The result of recording usage after the fact.</summary>
public sealed record RecordedUsage(ApiToken Token, UsageDay Day, Quota Quota, QuotaKind Exhausted);

/// <summary>
/// The rules for API tokens: names, scopes within the owner's role, lifetime clamping, the
/// one-active-per-user policy, revocation, usage history, and audit entries.
/// </summary>
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

    /// <param name="callerScopes">When the creator is itself an API token, the new token may not exceed it.</param>
    public async Task<Result<IssuedApiToken>> CreateAsync(
        Actor actor, NewApiToken request, IReadOnlySet<string>? callerScopes, CancellationToken cancellationToken)
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

        var ownerScopes = Permissions.Of(owner.Role);
        var scopes = request.Scopes?.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList() ?? [.. ownerScopes.Order(StringComparer.Ordinal)];
        if (scopes.FirstOrDefault(s => !Permissions.IsKnown(s)) is { } unknown)
        {
            return Failure.Validation($"Unknown scope '{unknown}'. Scopes: {string.Join(", ", Permissions.All)}.");
        }

        if (scopes.FirstOrDefault(s => !ownerScopes.Contains(s) || (callerScopes is not null && !callerScopes.Contains(s))) is { } beyond)
        {
            return Failure.Forbidden($"Scope '{beyond}' exceeds what the token's owner (or the creating token) holds.");
        }

        var tokenOptions = options.Value.Tokens;
        var days = request.ExpiresInDays ?? tokenOptions.DefaultLifetimeDays;
        var clamped = days > tokenOptions.MaxLifetimeDays;
        days = Math.Min(days, tokenOptions.MaxLifetimeDays);

        var now = time.GetUtcNow();
        var plaintext = ApiTokenFormat.New();
        var token = new ApiToken
        {
            Id = Ids.New(time),
            UserId = owner.Id,
            Name = request.Name,
            Prefix = ApiTokenFormat.DisplayPrefix(plaintext),
            Digest = Ids.Digest(plaintext),
            Scopes = scopes,
            Limits = request.Limits,
            CreatedAt = now,
            ExpiresAt = now.AddDays(days),
        };
        var revoked = await tokens.CreateAsync(token, tokenOptions.OneActivePerUser, cancellationToken);
        if (revoked > 0)
        {
            // The owner's other tokens were revoked in the store; their cached copies must not outlive that here.
            cache.EvictTokensOf(owner.Id);
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
            }),
            CancellationToken.None);
        return new IssuedApiToken(token, plaintext, days, clamped, revoked);
    }

    public async Task<Result<ApiToken>> GetAsync(string id, CancellationToken cancellationToken) =>
        Ids.IsWellFormed(id) && await tokens.FindByIdAsync(id, cancellationToken) is { } token ? token : Failure.NotFound("Token");

    public Task<Page<ApiToken>> ListAsync(ApiTokenQuery query, CancellationToken cancellationToken) =>
        tokens.ListAsync(query with { Limit = Math.Clamp(query.Limit, 1, 200) }, cancellationToken);

    /// <summary>Revokes a token; revoking a revoked token is not an error (DELETE is idempotent).</summary>
    public async Task<Result<ApiToken>> RevokeAsync(Actor actor, ApiToken token, CancellationToken cancellationToken)
    {
        var revoked = await tokens.RevokeAsync(token.Id, time.GetUtcNow(), cancellationToken);
        cache.EvictToken(token.Digest);
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

    /// <summary>Records usage that already happened (it always counts) and reports any exhausted quota.</summary>
    public async Task<Result<RecordedUsage>> RecordUsageAsync(string id, long requests, long llmTokens, decimal cost, CancellationToken cancellationToken)
    {
        if (requests < 0 || llmTokens < 0 || cost < 0 || !Money.IsRepresentable(cost))
        {
            return Failure.Validation($"requests, tokens and cost must be 0 or positive; cost has at most {Money.Decimals} decimal places.");
        }

        if (await GetAsync(id, cancellationToken) is not { Value: { } token })
        {
            return Failure.NotFound("Token");
        }

        var day = await usage.AddAsync(token.Id, UsageDay.DayOf(time.GetUtcNow()), new UsageDelta(requests, llmTokens, Money.ToMicros(cost)), cancellationToken);
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
}
