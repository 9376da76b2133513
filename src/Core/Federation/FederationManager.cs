using IronAuth.Core.Accounts;
using IronAuth.Core.Audit;
using IronAuth.Core.Caching;
using IronAuth.Core.Sessions;
using IronAuth.Core.Users;
using Microsoft.Extensions.Options;

namespace IronAuth.Core.Federation;

/// <summary>
/// Sign-in with an ID token from a configured OpenID provider. In order: an unknown provider is 400
/// <c>unknown_provider</c>; a token that fails any check (<see cref="IdTokenValidator"/>) is 401 <c>invalid_id_token</c>;
/// then the user linked to provider + <c>sub</c> signs in. An identity seen for the first time is linked to the account
/// with its email only with <see cref="FederationProvider.LinkByEmail"/>, only when the provider says the email is
/// verified, and only to an account whose own email is verified or was set by an admin (a self-registered, unverified
/// account might be someone's attempt to pre-claim the address). Otherwise an account is created when the provider
/// has <see cref="FederationProvider.CreateUsers"/> or registration is on (the identity is claimed for the new user's
/// id before the user is made, so concurrent first sign-ins agree on one account); else 403 <c>account_not_linked</c>.
/// </summary>
public sealed class FederationManager(
    IdTokenValidator validator,
    IFederatedIdentityStore links,
    IUserStore store,
    UserManager users,
    SignInManager signIns,
    IAuditStore audit,
    CredentialCache cache,
    IOptions<FederationOptions> options,
    IOptions<RegistrationOptions> registration,
    TimeProvider time)
{
    private static readonly Failure InvalidIdToken = new(FailureKind.Unauthorized, "invalid_id_token", "The ID token is invalid, expired or not for this service.");

    public async Task<Result<SignIn>> SignInAsync(string provider, string idToken, string? clientIp, CancellationToken cancellationToken)
    {
        if (!options.Value.Providers.TryGetValue(provider, out var settings))
        {
            return new Failure(FailureKind.Validation, "unknown_provider", $"'{Truncate(provider)}' is not a configured sign-in provider.");
        }

        var name = provider.ToLowerInvariant();
        var anonymous = Actor.Anonymous(clientIp);
        if (await validator.ValidateAsync(name, settings, idToken, cancellationToken) is not { } identity)
        {
            await audit.AppendAboutUserAsync(time, anonymous, AuditActions.LoginFailed, null, ("reason", "invalid_id_token"), ("provider", name));
            return InvalidIdToken;
        }

        var user = await LinkedUserAsync(identity, settings, anonymous, cancellationToken);
        if (user.Failure is { } failure)
        {
            await audit.AppendAboutUserAsync(time, anonymous, AuditActions.LoginFailed, null, ("reason", failure.Code), ("provider", name));
            return failure;
        }

        return await signIns.SignInVerifiedAsync(user.Value!, "federated:" + name, clientIp, cancellationToken);
    }

    private async Task<Result<User>> LinkedUserAsync(FederatedIdentity identity, FederationProvider settings, Actor actor, CancellationToken cancellationToken)
    {
        if (await links.FindUserIdAsync(identity.Provider, identity.Subject, cancellationToken) is { } linkedId)
        {
            return await LinkedAsync(identity, linkedId, actor, cancellationToken);
        }

        var email = identity.EmailVerified ? EmailAddresses.Normalize(identity.Email) : null;
        var existing = email is null ? null : await store.FindByEmailAsync(email, cancellationToken);
        if (existing is { Status: not UserStatus.Deleted } && settings.LinkByEmail && (existing.IsEmailVerified || !existing.EmailVerificationRequired))
        {
            return await links.LinkAsync(identity.Provider, identity.Subject, existing.Id, time.GetUtcNow(), cancellationToken)
                ? await LinkedNowAsync(identity, existing, actor)
                : await LinkedAsync(identity, (await links.FindUserIdAsync(identity.Provider, identity.Subject, cancellationToken))!, actor, cancellationToken);
        }

        if (!settings.CreateUsers && !registration.Value.Enabled)
        {
            return new Failure(FailureKind.Forbidden, "account_not_linked", "No account is linked to this identity, and this provider does not create accounts.");
        }

        // The identity is claimed for a new user id before the user exists: the link's unique key decides, once, which
        // account this sub reaches, so concurrent first sign-ins cannot make two accounts for it.
        var id = Ids.New(time);
        if (!await links.LinkAsync(identity.Provider, identity.Subject, id, time.GetUtcNow(), cancellationToken))
        {
            return await LinkedAsync(identity, (await links.FindUserIdAsync(identity.Provider, identity.Subject, cancellationToken))!, actor, cancellationToken);
        }

        var created = await CreateAsync(identity, id, existing is null ? email : null, actor, cancellationToken);
        return created.Value is { } user ? await LinkedNowAsync(identity, user, actor) : created;
    }

    /// <summary>
    /// The user a stored link names. A link claimed for a user that does not exist yet is another sign-in's, still
    /// creating it: wait for it briefly, then create it under the claimed id (a creator that crashed between the two).
    /// </summary>
    private async Task<Result<User>> LinkedAsync(FederatedIdentity identity, string userId, Actor actor, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 6; attempt++)
        {
            if (await store.FindByIdAsync(userId, cancellationToken) is { } user)
            {
                return user.Status == UserStatus.Deleted
                    ? new Failure(FailureKind.Forbidden, "account_not_linked", "The account this identity signs in as was deleted.")
                    : user;
            }

            // Pacing against a concurrent creator, not domain time: the real clock.
            await Task.Delay(TimeSpan.FromMilliseconds(25 << attempt), cancellationToken);
        }

        return await CreateAsync(identity, userId, null, actor, cancellationToken);
    }

    /// <summary>Creates the account for a claimed id; the email only when given (verified by the provider, on no other account).</summary>
    private async Task<Result<User>> CreateAsync(FederatedIdentity identity, string id, string? email, Actor actor, CancellationToken cancellationToken)
    {
        var accountEmail = email is not null && UsernameRules.CheckEmail(identity.Email) is null ? identity.Email : null;
        var displayName = identity.Name is { Length: <= 128 } n && UsernameRules.CheckDisplayName(n) is null ? n : null;
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var username = attempt == 0 && accountEmail is not null && UsernameRules.CheckUsername(accountEmail) is null
                ? accountEmail
                : $"{identity.Provider}-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(5))}";
            // A random password nobody knows: the account signs in through its provider (or after a reset by email).
            var created = await users.CreateAsync(
                actor, new NewUser(username, Ids.NewSecret(), Role.User, attempt == 0 ? accountEmail : null, displayName, Id: id), cancellationToken);
            if (created.Value is { } user)
            {
                if (user.Email is null)
                {
                    return user;
                }

                var now = time.GetUtcNow();
                return (await store.ChangeAsync(cache, user.Id, u => u with { EmailVerifiedAt = now, UpdatedAt = now }, cancellationToken)).Value ?? user;
            }

            if (await store.FindByIdAsync(id, cancellationToken) is { } madeMeanwhile)
            {
                return madeMeanwhile;
            }

            if (created.Failure!.Kind != FailureKind.Conflict)
            {
                return created.Failure;
            }

            // The email or the name belongs to another account: once more without the email, under a generated name.
        }

        return new Failure(FailureKind.Conflict, "concurrent_update", "The account could not be created; try again.");
    }

    private async Task<Result<User>> LinkedNowAsync(FederatedIdentity identity, User user, Actor actor)
    {
        await audit.AppendAboutUserAsync(time, actor, FederationAuditActions.IdentityLinked, user.Id, ("provider", identity.Provider));
        return user;
    }

    private static string Truncate(string value) => value.Length <= 64 ? value : value[..64];
}

public static class FederationAuditActions
{
    public const string IdentityLinked = "user.identity_linked";
}
