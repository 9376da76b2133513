namespace IronAuth.Core.Federation;

/// <summary>Which user an identity at a provider (its <c>sub</c>) signs in as; never matched by email alone.</summary>
public interface IFederatedIdentityStore
{
    Task<string?> FindUserIdAsync(string provider, string subject, CancellationToken cancellationToken);

    /// <summary>Links provider + subject to the user; false (nothing written) when that identity is already linked.</summary>
    Task<bool> LinkAsync(string provider, string subject, string userId, DateTimeOffset now, CancellationToken cancellationToken);
}
