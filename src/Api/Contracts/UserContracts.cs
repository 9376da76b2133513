using System.Text.Json.Serialization;
using IronAuth.Core.Audit;
using IronAuth.Core.Users;

namespace IronAuth.Api.Contracts;

public sealed record CreateUserRequest
{
    public required string Username { get; init; }

    public required string Password { get; init; }

    public string? Email { get; init; }

    public string? DisplayName { get; init; }

    public required string Role { get; init; }
}

/// <summary>PATCH body: a member that is absent stays unchanged; one sent as null is cleared.</summary>
public sealed class UpdateUserRequest
{
    private string? email;
    private string? displayName;

    public string? Email
    {
        get => email;
        set
        {
            email = value;
            EmailSet = true;
        }
    }

    public string? DisplayName
    {
        get => displayName;
        set
        {
            displayName = value;
            DisplayNameSet = true;
        }
    }

    /// <summary>Required when users change their own email (not when an admin changes another user's).</summary>
    public string? CurrentPassword { get; init; }

    [JsonIgnore]
    public bool EmailSet { get; private set; }

    [JsonIgnore]
    public bool DisplayNameSet { get; private set; }
}

public sealed record SuspendUserRequest
{
    public string? Reason { get; init; }
}

public sealed record SetRoleRequest
{
    public required string Role { get; init; }
}

public sealed record ChangePasswordRequest
{
    public required string CurrentPassword { get; init; }

    public required string NewPassword { get; init; }

    /// <summary>Also revoke every API token of the user (after a suspected compromise).</summary>
    public bool RevokeTokens { get; init; }
}

public sealed record PasswordResetResponse(string ResetToken, DateTimeOffset ExpiresAt);

public sealed record UserResponse(
    string Id,
    string Username,
    string? Email,
    string? DisplayName,
    string Role,
    string Status,
    string? StatusReason,
    DateTimeOffset? LockedUntil,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    bool EmailVerified)
{
    public static UserResponse From(User user) => new(
        user.Id, user.Username, user.Email, user.DisplayName, user.Role.ToWire(), user.Status.ToWire(), user.StatusReason,
        user.LockedUntil, user.CreatedAt, user.UpdatedAt, user.IsEmailVerified);
}

public sealed record PageResponse<T>(IReadOnlyList<T> Items, string? NextCursor);

public sealed record AuditEntryResponse(
    string Id,
    DateTimeOffset At,
    string? ActorId,
    string ActorName,
    string Action,
    string? TargetType,
    string? TargetId,
    string? ClientIp,
    IReadOnlyDictionary<string, string> Details)
{
    public static AuditEntryResponse From(AuditEntry entry) => new(
        entry.Id, entry.At, entry.ActorId, entry.ActorName, entry.Action, entry.TargetType, entry.TargetId, entry.ClientIp, entry.Details);
}
