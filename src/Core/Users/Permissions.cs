using System.Collections.Frozen;

namespace IronAuth.Core.Users;

/// <summary>How far a permission reaches for a role.</summary>
public enum Reach
{
    None,
    Own,
    All,
}

/// <summary>
/// The permission matrix of design.md, in one place. Permission names double as API-token scope names.
/// </summary>
public static class Permissions
{
    public const string UsersRead = "users:read";
    public const string UsersWrite = "users:write";
    public const string TokensRead = "tokens:read";
    public const string TokensWrite = "tokens:write";
    public const string TokensVerify = "tokens:verify";
    public const string AuditRead = "audit:read";

    // Agent budgets (issue 18).
    public const string BudgetsRead = "budgets:read";
    public const string BudgetsWrite = "budgets:write";

    public static IReadOnlyList<string> All { get; } =
        [UsersRead, UsersWrite, TokensRead, TokensWrite, TokensVerify, AuditRead, BudgetsRead, BudgetsWrite];

    private static readonly FrozenDictionary<(Role, string), Reach> Matrix = new Dictionary<(Role, string), Reach>
    {
        [(Role.Admin, UsersRead)] = Reach.All,
        [(Role.Admin, UsersWrite)] = Reach.All,
        [(Role.Admin, TokensRead)] = Reach.All,
        [(Role.Admin, TokensWrite)] = Reach.All,
        [(Role.Admin, TokensVerify)] = Reach.All,
        [(Role.Admin, AuditRead)] = Reach.All,

        [(Role.User, UsersRead)] = Reach.Own,
        [(Role.User, UsersWrite)] = Reach.Own,
        [(Role.User, TokensRead)] = Reach.Own,
        [(Role.User, TokensWrite)] = Reach.Own,
        [(Role.User, AuditRead)] = Reach.Own,

        [(Role.Viewer, UsersRead)] = Reach.All,
        // A viewer's only write is its own password (see CanEditProfile).
        [(Role.Viewer, UsersWrite)] = Reach.Own,
        [(Role.Viewer, TokensRead)] = Reach.All,
        [(Role.Viewer, AuditRead)] = Reach.All,

        // Agent budgets: admins all, users their own, viewers read everyone's. Changing an allocation and attaching a
        // provider credential are admin-only on top (BudgetEndpoints).
        [(Role.Admin, BudgetsRead)] = Reach.All,
        [(Role.Admin, BudgetsWrite)] = Reach.All,
        [(Role.User, BudgetsRead)] = Reach.Own,
        [(Role.User, BudgetsWrite)] = Reach.Own,
        [(Role.Viewer, BudgetsRead)] = Reach.All,
    }.ToFrozenDictionary();

    public static Reach ReachOf(Role role, string permission) =>
        Matrix.GetValueOrDefault((role, permission), Reach.None);

    /// <summary>The permissions a role holds to any extent: what an unscoped API token of its owner gets.</summary>
    public static ScopeSet Of(Role role) => RolePermissions[role];

    /// <summary>Viewers change nothing but their own password.</summary>
    public static bool CanEditProfile(Role role) => role != Role.Viewer;

    public static bool IsKnown(string permission) => All.Contains(permission);

    private static readonly FrozenDictionary<Role, ScopeSet> RolePermissions =
        Enum.GetValues<Role>().ToFrozenDictionary(role => role, role => new ScopeSet(All.Where(p => ReachOf(role, p) != Reach.None)));
}
