namespace IronAuth.Core.Users;

/// <summary>A user account as stored.</summary>
public sealed record User
{
    public required string Id { get; init; }

    public required string Username { get; init; }

    public string NormalizedUsername => UsernameRules.Normalize(Username);

    public string? Email { get; init; }

    /// <summary>The form emails are unique in (case-insensitively); null without an email.</summary>
    public string? NormalizedEmail => EmailAddresses.Normalize(Email);

    /// <summary>When the owner proved the email is theirs (an emailed code); null when never, or since it changed.</summary>
    public DateTimeOffset? EmailVerifiedAt { get; init; }

    /// <summary>The account may not sign in until its email is verified (self-registered accounts).</summary>
    public bool EmailVerificationRequired { get; init; }

    public bool IsEmailVerified => Email is not null && EmailVerifiedAt is not null;

    public string? DisplayName { get; init; }

    public required Role Role { get; init; }

    public UserStatus Status { get; init; } = UserStatus.Active;

    /// <summary>Why the account was suspended or deleted, as the admin gave it.</summary>
    public string? StatusReason { get; init; }

    public required string PasswordHash { get; init; }

    public int FailedLogins { get; init; }

    /// <summary>How many times in a row the account was locked; each lock lasts twice the one before.</summary>
    public int LockoutCount { get; init; }

    public DateTimeOffset? LockedUntil { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary>The store's concurrency token; an update succeeds only against the version it read.</summary>
    public string Version { get; init; } = "";

    public bool IsActive => Status == UserStatus.Active;
}

/// <summary>Filters and position (a page's <see cref="Page{T}.Next"/>) for listing users.</summary>
public sealed record UserQuery(Role? Role, UserStatus? Status, string? Position, int Limit);
