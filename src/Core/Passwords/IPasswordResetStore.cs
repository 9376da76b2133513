namespace IronAuth.Core.Passwords;

/// <summary>An admin-issued one-time password reset, stored only as the digest of its token.</summary>
public sealed record PasswordResetTicket(byte[] Digest, string UserId, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt);

public interface IPasswordResetStore
{
    /// <summary>Stores a new ticket and spends every earlier unspent ticket of the same user.</summary>
    Task AddAsync(PasswordResetTicket ticket, CancellationToken cancellationToken);

    /// <summary>The unspent, unexpired ticket with this digest, if any.</summary>
    Task<PasswordResetTicket?> FindUsableAsync(byte[] digest, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Spends the ticket; true for exactly one of any number of concurrent callers.</summary>
    Task<bool> SpendAsync(byte[] digest, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Spends every unspent ticket of the user (its password was set another way, so an outstanding reset must not
    /// undo that); returns how many were.
    /// </summary>
    Task<int> SpendAllAsync(string userId, DateTimeOffset now, CancellationToken cancellationToken);
}
