namespace IronAuth.Core.Users;

/// <summary>What a conditional write did.</summary>
public enum WriteOutcome
{
    Written,

    /// <summary>Someone changed the record since it was read: re-read and decide again.</summary>
    Conflict,

    /// <summary>The write would have left no active admin, so nothing was written.</summary>
    LastAdmin,

    /// <summary>The new email belongs to another user (compared case-insensitively), so nothing was written.</summary>
    EmailTaken,
}

/// <summary>User accounts.</summary>
public interface IUserStore
{
    /// <summary>Adds a user; false (nothing written) when the normalized username or the normalized email is taken.</summary>
    Task<bool> CreateAsync(User user, CancellationToken cancellationToken);

    Task<User?> FindByIdAsync(string id, CancellationToken cancellationToken);

    Task<User?> FindByUsernameAsync(string normalizedUsername, CancellationToken cancellationToken);

    /// <summary>The user whose email, normalized, is <paramref name="normalizedEmail"/> (<see cref="EmailAddresses.Normalize"/>).</summary>
    Task<User?> FindByEmailAsync(string normalizedEmail, CancellationToken cancellationToken);

    Task<bool> AnyAsync(CancellationToken cancellationToken);

    /// <summary>Users in creation order, continuing from <see cref="UserQuery.Position"/>.</summary>
    Task<Page<User>> ListAsync(UserQuery query, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces the user if its stored version is still <c>user.Version</c>. With
    /// <paramref name="keepAnActiveAdmin"/>, the write also requires that another active admin exists,
    /// checked in the same atomic step so two concurrent demotions cannot remove the last two admins.
    /// </summary>
    Task<WriteOutcome> UpdateAsync(User user, bool keepAnActiveAdmin, CancellationToken cancellationToken);
}
