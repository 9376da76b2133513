namespace IronAuth.Core.Users;

public enum Role
{
    Admin,
    User,
    Viewer,
}

public enum UserStatus
{
    Active,
    Suspended,
    Deleted,
}

public static class RoleNames
{
    public static string ToWire(this Role role) => role switch
    {
        Role.Admin => "admin",
        Role.User => "user",
        Role.Viewer => "viewer",
        _ => throw new ArgumentOutOfRangeException(nameof(role)),
    };

    public static string ToWire(this UserStatus status) => status switch
    {
        UserStatus.Active => "active",
        UserStatus.Suspended => "suspended",
        UserStatus.Deleted => "deleted",
        _ => throw new ArgumentOutOfRangeException(nameof(status)),
    };

    public static bool TryParseRole(string? value, out Role role)
    {
        (var ok, role) = value switch
        {
            "admin" => (true, Role.Admin),
            "user" => (true, Role.User),
            "viewer" => (true, Role.Viewer),
            _ => (false, default),
        };
        return ok;
    }

    public static bool TryParseStatus(string? value, out UserStatus status)
    {
        (var ok, status) = value switch
        {
            "active" => (true, UserStatus.Active),
            "suspended" => (true, UserStatus.Suspended),
            "deleted" => (true, UserStatus.Deleted),
            _ => (false, default),
        };
        return ok;
    }
}
