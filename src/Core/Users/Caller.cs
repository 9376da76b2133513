namespace IronAuth.Core.Users;

/// <summary>How a caller proved who it is.</summary>
public enum AuthMethod
{
    /// <summary>An access JWT from a password sign-in.</summary>
    Session,

    /// <summary>An API token (<c>iron_…</c>).</summary>
    ApiToken,
}

/// <summary>An authenticated caller: a user, narrowed by the scopes of what it presented.</summary>
public sealed record Caller(User User, AuthMethod Method, ScopeSet Scopes, string? SessionId, string? TokenId)
{
    public string UserId => User.Id;

    public Role Role => User.Role;

    public Actor ToActor(string? clientIp) => new(User.Id, User.Username, clientIp);

    /// <summary>
    /// The one permission check: the caller must hold <paramref name="permission"/> in its scopes, and its
    /// role must reach <paramref name="ownerId"/> (the user the target belongs to; null for "all").
    /// </summary>
    public Failure? Require(string permission, string? ownerId = null)
    {
        if (!Scopes.Contains(permission))
        {
            return Failure.Forbidden($"This credential lacks the '{permission}' permission.");
        }

        return Permissions.ReachOf(Role, permission) switch
        {
            Reach.All => null,
            Reach.Own when ownerId == UserId => null,
            _ => Failure.Forbidden($"The '{Role.ToWire()}' role may not use '{permission}' on another user's data."),
        };
    }

    /// <summary>
    /// Whose items a listing shows: a caller that reaches everyone's (admin, viewer) sees all, or the one user asked for
    /// (<paramref name="requested"/>); any other sees its own, and asking for someone else's is forbidden.
    /// </summary>
    public (string? OwnerId, Failure? Failure) ListScope(string permission, string? requested)
    {
        var ownerId = requested ?? (Require(permission) is null ? null : UserId);
        return (ownerId, Require(permission, ownerId));
    }
}
