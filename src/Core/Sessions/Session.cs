namespace IronAuth.Core.Sessions;

/// <summary>
/// A signed-in session: one login and the chain of refresh tokens rotated from it (a refresh-token
/// family). Revoking it ends every access and refresh token it issued.
/// </summary>
public sealed record Session
{
    public required string Id { get; init; }

    public required string UserId { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the newest refresh token of the session expires.</summary>
    public required DateTimeOffset ExpiresAt { get; init; }

    public DateTimeOffset? RevokedAt { get; init; }

    public string? RevokedReason { get; init; }

    public bool IsActiveAt(DateTimeOffset now) => RevokedAt is null && ExpiresAt > now;
}

/// <summary>A refresh token as stored: only its digest, and when it was spent (rotated away), if it was.</summary>
public sealed record RefreshTokenRecord(byte[] Digest, string SessionId, DateTimeOffset IssuedAt, DateTimeOffset ExpiresAt, DateTimeOffset? SpentAt = null);

public enum RotationOutcome
{
    Rotated,

    /// <summary>The token was already spent: the session has been revoked in the same step.</summary>
    Reused,

    /// <summary>Unknown, expired, or its session is over.</summary>
    Invalid,
}

/// <summary>Sessions and their refresh tokens.</summary>
public interface ISessionStore
{
    Task CreateAsync(Session session, RefreshTokenRecord firstToken, CancellationToken cancellationToken);

    Task<Session?> FindAsync(string sessionId, CancellationToken cancellationToken);

    /// <summary>The refresh token of the session with digest <paramref name="digest"/>, spent or not; null when it has none such.</summary>
    Task<RefreshTokenRecord?> FindRefreshTokenAsync(string sessionId, byte[] digest, CancellationToken cancellationToken);

    /// <summary>
    /// Spends the refresh token with digest <paramref name="presented"/> and stores <paramref name="next"/>
    /// in one atomic step: of any number of concurrent callers presenting one token, exactly one gets
    /// <see cref="RotationOutcome.Rotated"/>. Presenting a spent token revokes the session.
    /// </summary>
    Task<RotationOutcome> RotateAsync(string sessionId, byte[] presented, RefreshTokenRecord next, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Revokes one session; false when it was already revoked or does not exist.</summary>
    Task<bool> RevokeAsync(string sessionId, string reason, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Revokes every active session of a user but <paramref name="exceptSessionId"/>; returns how many.</summary>
    Task<int> RevokeAllAsync(string userId, string? exceptSessionId, string reason, DateTimeOffset now, CancellationToken cancellationToken);
}
