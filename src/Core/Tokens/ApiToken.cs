using IronAuth.Core.Limits;

namespace IronAuth.Core.Tokens;

/// <summary>An API token as stored: metadata and the SHA-256 digest of the secret, never the secret.</summary>
public sealed record ApiToken
{
    public required string Id { get; init; }

    public required string UserId { get; init; }

    public required string Name { get; init; }

    /// <summary>The first characters of the token, to recognise it in lists.</summary>
    public required string Prefix { get; init; }

    public required byte[] Digest { get; init; }

    /// <summary>The scopes granted at creation; at use they are further narrowed to the owner's current role.</summary>
    public required IReadOnlyList<string> Scopes { get; init; }

    public TokenLimits Limits { get; init; } = TokenLimits.None;

    public required DateTimeOffset CreatedAt { get; init; }

    public required DateTimeOffset ExpiresAt { get; init; }

    public DateTimeOffset? RevokedAt { get; init; }

    public DateTimeOffset? LastUsedAt { get; init; }
}

/// <summary>Which tokens to list.</summary>
public sealed record ApiTokenQuery(string? UserId, string? Position, int Limit);

/// <summary>API tokens.</summary>
public interface IApiTokenStore
{
    /// <summary>
    /// Stores a new token. With <paramref name="revokeOthers"/>, the owner's other unrevoked tokens are revoked
    /// in the same atomic step; returns how many were.
    /// </summary>
    Task<int> CreateAsync(ApiToken token, bool revokeOthers, CancellationToken cancellationToken);

    Task<ApiToken?> FindByIdAsync(string id, CancellationToken cancellationToken);

    Task<ApiToken?> FindByDigestAsync(byte[] digest, CancellationToken cancellationToken);

    /// <summary>Tokens in creation order, continuing from <see cref="ApiTokenQuery.Position"/>.</summary>
    Task<Page<ApiToken>> ListAsync(ApiTokenQuery query, CancellationToken cancellationToken);

    /// <summary>Revokes the token; false when it was already revoked or does not exist.</summary>
    Task<bool> RevokeAsync(string id, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Records a use; stores keep the later of the stored and the given time. A store may skip an update within
    /// <see cref="Configuration.TokenOptions.LastUsedResolution"/> of the stored time.
    /// </summary>
    Task TouchAsync(string id, DateTimeOffset usedAt, CancellationToken cancellationToken);
}
