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

    /// <summary>
    /// The API token that created this one, when one did: this token never outlives it nor exceeds its limits, and
    /// revoking it revokes this one (see <see cref="IApiTokenStore.RevokeAsync"/>).
    /// </summary>
    public string? ParentId { get; init; }
}

/// <summary>Why a store did not create a token.</summary>
public enum ApiTokenRefusal
{
    None,

    /// <summary>The owner already holds the most active (unrevoked, unexpired) tokens allowed.</summary>
    TooManyActive,

    /// <summary>The token's parent was revoked or has expired.</summary>
    ParentInactive,
}

/// <summary>What storing a new token did: whether it was refused, and how many of the owner's other tokens it revoked.</summary>
public sealed record ApiTokenCreation(ApiTokenRefusal Refusal, int RevokedOthers)
{
    public bool Created => Refusal == ApiTokenRefusal.None;
}

/// <summary>Which tokens to list.</summary>
public sealed record ApiTokenQuery(string? UserId, string? Position, int Limit);

/// <summary>API tokens.</summary>
public interface IApiTokenStore
{
    /// <summary>
    /// Stores a new token. With <paramref name="revokeOthers"/>, the owner's other unrevoked tokens (and the tokens
    /// they made) are revoked in the same atomic step, and the result says how many of the owner's were. Otherwise,
    /// with <paramref name="maxActive"/> above 0, the token is refused when the owner already holds that many active
    /// (unrevoked, unexpired at the token's creation) tokens, checked atomically with the insert: concurrent creates
    /// never take an owner past the cap. A token with a <see cref="ApiToken.ParentId"/> is refused when the parent is
    /// revoked or expired, and a parent revoked while its child is being created revokes the child too.
    /// </summary>
    Task<ApiTokenCreation> CreateAsync(ApiToken token, bool revokeOthers, int maxActive, CancellationToken cancellationToken);

    Task<ApiToken?> FindByIdAsync(string id, CancellationToken cancellationToken);

    Task<ApiToken?> FindByDigestAsync(byte[] digest, CancellationToken cancellationToken);

    /// <summary>
    /// Reads a token found earlier again (its cached copy has expired): null when it is gone, and otherwise as fresh as
    /// <see cref="FindByDigestAsync"/> for everything another process can change on it (revocation, expiry, scopes,
    /// limits). A store may find it by what cannot change (its id, owner and digest) to read less, and may keep
    /// <paramref name="known"/>'s <see cref="ApiToken.LastUsedAt"/>, which the verifier only uses to space out touches.
    /// </summary>
    Task<ApiToken?> RefreshAsync(ApiToken known, CancellationToken cancellationToken);

    /// <summary>Tokens in creation order, continuing from <see cref="ApiTokenQuery.Position"/>.</summary>
    Task<Page<ApiToken>> ListAsync(ApiTokenQuery query, CancellationToken cancellationToken);

    /// <summary>
    /// Revokes the token and every token made from it (its children, theirs, and so on); false when the token itself
    /// was already revoked or does not exist. Descendants are revoked even when the token already was, so repeating a
    /// revoke that failed part-way through finishes it.
    /// </summary>
    Task<bool> RevokeAsync(string id, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Revokes every token of <paramref name="userId"/> and every token made from them; returns how many were revoked
    /// by this call (descendants included). For a user who can no longer use them (deleted).
    /// </summary>
    Task<int> RevokeAllOfUserAsync(string userId, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Records a use; stores keep the later of the stored and the given time. A store may skip an update within
    /// <see cref="Configuration.TokenOptions.LastUsedResolution"/> of the stored time.
    /// </summary>
    Task TouchAsync(string id, DateTimeOffset usedAt, CancellationToken cancellationToken);
}

/// <summary>The create of tools and tests that need neither the cap on active tokens nor a refusal as a value.</summary>
public static class ApiTokenStoreExtensions
{
    /// <summary>Stores a token with no cap on active tokens (tests, tools); returns how many others it revoked.</summary>
    /// <exception cref="InvalidOperationException">The store refused the token (its parent is inactive).</exception>
    public static async Task<int> CreateAsync(this IApiTokenStore store, ApiToken token, bool revokeOthers, CancellationToken cancellationToken)
    {
        var created = await store.CreateAsync(token, revokeOthers, 0, cancellationToken);
        return created.Created ? created.RevokedOthers : throw new InvalidOperationException($"The token was refused: {created.Refusal}.");
    }
}
