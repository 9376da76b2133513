namespace IronAuth.Core.Audit;

/// <summary>One line of the append-only audit log. Details never hold secrets.</summary>
public sealed record AuditEntry
{
    public required string Id { get; init; }

    public required DateTimeOffset At { get; init; }

    public string? ActorId { get; init; }

    public required string ActorName { get; init; }

    public required string Action { get; init; }

    public string? TargetType { get; init; }

    public string? TargetId { get; init; }

    public string? ClientIp { get; init; }

    public IReadOnlyDictionary<string, string> Details { get; init; } = new Dictionary<string, string>();

    public static AuditEntry Create(
        TimeProvider time,
        Actor actor,
        string action,
        string? targetType = null,
        string? targetId = null,
        IReadOnlyDictionary<string, string>? details = null) => new()
        {
            Id = Ids.New(time),
            At = time.GetUtcNow(),
            ActorId = actor.UserId,
            ActorName = actor.Name,
            Action = action,
            TargetType = targetType,
            TargetId = targetId,
            ClientIp = actor.ClientIp,
            Details = details ?? new Dictionary<string, string>(),
        };
}

/// <summary>The stable action names written to the audit log.</summary>
public static class AuditActions
{
    public const string UserCreated = "user.created";
    public const string UserUpdated = "user.updated";
    public const string UserSuspended = "user.suspended";
    public const string UserActivated = "user.activated";
    public const string UserDeleted = "user.deleted";
    public const string UserRoleChanged = "user.role_changed";
    public const string PasswordChanged = "user.password_changed";
    public const string PasswordChangeFailed = "user.password_change_failed";
    public const string EmailChangeFailed = "user.email_change_failed";
    public const string PasswordResetIssued = "user.password_reset_issued";
    public const string PasswordReset = "user.password_reset";
    public const string LoginSucceeded = "login.succeeded";
    public const string LoginFailed = "login.failed";
    public const string AccountLocked = "login.locked";
    public const string SessionRefreshed = "session.refreshed";
    public const string RefreshReuseDetected = "session.reuse_detected";
    public const string LoggedOut = "session.logged_out";
    public const string SessionRevoked = "session.revoked";
    public const string TokenCreated = "token.created";
    public const string TokenRevoked = "token.revoked";
    public const string MaintenanceRan = "maintenance.ran";
    public const string SigningKeyRotated = "signing_key.rotated";
    public const string SigningKeyRetired = "signing_key.retired";
}

/// <summary>The append-only audit log. Entries are only ever inserted.</summary>
public interface IAuditStore
{
    Task AppendAsync(AuditEntry entry, CancellationToken cancellationToken);

    /// <summary>
    /// Entries newest first, continuing from <paramref name="position"/> (a page's <see cref="Page{T}.Next"/>);
    /// with <paramref name="userId"/>, only entries the user made or that concern the user.
    /// </summary>
    Task<Page<AuditEntry>> ListAsync(string? userId, string? position, int limit, CancellationToken cancellationToken);
}

public static class AuditStoreExtensions
{
    /// <summary>
    /// Appends an entry about a user (or none, for an unknown one). Not cancellable on purpose: a change that
    /// happened is audited even when the client that asked for it has gone away.
    /// </summary>
    public static Task AppendAboutUserAsync(
        this IAuditStore audit, TimeProvider time, Actor actor, string action, string? userId, params (string Key, string Value)[] details) =>
        audit.AppendAsync(
            AuditEntry.Create(time, actor, action, userId is null ? null : "user", userId, details.ToDictionary(d => d.Key, d => d.Value)),
            CancellationToken.None);
}
