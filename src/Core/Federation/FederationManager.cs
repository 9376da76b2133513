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
/// has <see cref="FederationProvider.CreateUsers"/> or registration is on; else 403 <c>account_not_linked</c>.
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
            return await store.FindByIdAsync(linkedId, cancellationToken) is { Status: not UserStatus.Deleted } linked
                ? linked
                : new Failure(FailureKind.Forbidden, "account_not_linked", "The account this identity signs in as was deleted.");
        }

        var email = identity.EmailVerified ? EmailAddresses.Normalize(identity.Email) : null;
        var existing = email is null ? null : await store.FindByEmailAsync(email, cancellationToken);
        if (existing is { Status: not UserStatus.Deleted } && settings.LinkByEmail && (existing.IsEmailVerified || !existing.EmailVerificationRequired))
        {
            return await LinkAsync(identity, existing, createdHere: false, actor, cancellationToken);
        }

        if (!settings.CreateUsers && !registration.Value.Enabled)
        {
            return new Failure(FailureKind.Forbidden, "account_not_linked", "No account is linked to this identity, and this provider does not create accounts.");
        }

        // The email goes on the new account only when the provider verified it and no other account has it.
        var accountEmail = existing is null && email is not null && UsernameRules.CheckEmail(identity.Email) is null ? identity.Email : null;
        var username = accountEmail is not null && UsernameRules.CheckUsername(accountEmail) is null && await store.FindByUsernameAsync(UsernameRules.Normalize(accountEmail), cancellationToken) is null
            ? accountEmail
            : $"{identity.Provider}-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(5))}";
        var displayName = identity.Name is { Length: <= 128 } n && UsernameRules.CheckDisplayName(n) is null ? n : null;
        // A random password nobody knows: the account signs in through its provider (or after a reset by email).
        var created = await users.CreateAsync(actor, new NewUser(username, Ids.NewSecret(), Role.User, accountEmail, displayName), cancellationToken);
        if (created.Failure is { } failure)
        {
            return failure;
        }

        var user = created.Value!;
        if (accountEmail is not null)
        {
            var now = time.GetUtcNow();
            user = (await store.ChangeAsync(cache, user.Id, u => u with { EmailVerifiedAt = now, UpdatedAt = now }, cancellationToken)).Value ?? user;
        }

        return await LinkAsync(identity, user, createdHere: true, actor, cancellationToken);
    }

    private async Task<Result<User>> LinkAsync(FederatedIdentity identity, User user, bool createdHere, Actor actor, CancellationToken cancellationToken)
    {
        if (!await links.LinkAsync(identity.Provider, identity.Subject, user.Id, time.GetUtcNow(), cancellationToken))
        {
            // Another sign-in of the same identity linked it first: that link stands, so the same sub always reaches
            // the same user. An account this call created for it is left unused and deleted.
            if (createdHere)
            {
                await users.DeleteAsync(Actor.System, user.Id, cancellationToken);
            }

            return await links.FindUserIdAsync(identity.Provider, identity.Subject, cancellationToken) is { } winner
                && await store.FindByIdAsync(winner, cancellationToken) is { } linked
                ? linked
                : new Failure(FailureKind.Conflict, "concurrent_update", "The identity was linked concurrently; try again.");
        }

        await audit.AppendAboutUserAsync(time, actor, FederationAuditActions.IdentityLinked, user.Id, ("provider", identity.Provider));
        return user;
    }

    private static string Truncate(string value) => value.Length <= 64 ? value : value[..64];
}

public static class FederationAuditActions
{
    public const string IdentityLinked = "user.identity_linked";
}
