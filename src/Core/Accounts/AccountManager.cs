using IronAuth.Core.Audit;
using IronAuth.Core.Caching;
using IronAuth.Core.Email;
using IronAuth.Core.Limits;
using IronAuth.Core.Sessions;
using IronAuth.Core.Users;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IronAuth.Core.Accounts;

/// <summary>Audit actions of self-service accounts.</summary>
public static class AccountAuditActions
{
    public const string EmailCodeSent = "user.email_code_sent";
    public const string EmailVerified = "user.email_verified";
    public const string EmailVerificationFailed = "user.email_verification_failed";
}

/// <summary>
/// Self-service accounts: sign-up, email verification by an emailed code, and password reset by email. Off unless
/// <see cref="RegistrationOptions.Enabled"/>.
/// </summary>
/// <remarks>
/// Resend and reset requests must not tell whether an address has an account. Both answer before anything about the
/// address is looked up: the handler only checks the address's form and its per-address bucket (the same for every
/// address, known or not) and queues the work; the lookup, the code or reset token and the message happen in the
/// outbox (<see cref="EmailOutbox"/>). So the answer, its body and its timing are the same whether the address is
/// unknown, unverified, verified or suspended. Past the per-address limit the answer is that same 202 and nothing is
/// queued, so the limit says nothing about the address either.
/// </remarks>
public sealed partial class AccountManager(
    UserManager users,
    IUserStore store,
    IEmailCodeStore codes,
    EmailCodes emailCodes,
    EmailOutbox outbox,
    EmailTemplates templates,
    IRateBucketStore buckets,
    LoginThrottle throttle,
    IAuditStore audit,
    AuditPseudonyms pseudonyms,
    CredentialCache cache,
    IOptions<RegistrationOptions> registration,
    IOptions<EmailOptions> email,
    TimeProvider time,
    ILogger<AccountManager> logger)
{
    private static readonly Failure Disabled = new(FailureKind.NotFound, "not_found", "Self-service accounts are not enabled on this server.");

    private static readonly Failure InvalidCode = new(FailureKind.Validation, "invalid_code", "The code is wrong, expired or already used.");

    private static readonly Failure OutboxFull = new(FailureKind.Unavailable, "server_busy", "Too many emails are waiting to be sent; try again shortly.")
    {
        RetryAfter = TimeSpan.FromSeconds(30),
    };

    public bool Enabled => registration.Value.Enabled;

    /// <summary>
    /// Creates an account (role user) that cannot sign in until its email is verified, and mails it a code. The
    /// account is created whether or not the mail can be queued (a resend makes another). Taken emails answer 409
    /// <c>email_taken</c>: a sign-up form that says so is the common trade-off; attempts are throttled per client
    /// address like sign-ins, and each costs a password hash.
    /// </summary>
    public async Task<Result<User>> RegisterAsync(
        string emailAddress, string password, string? username, string? displayName, string? clientIp, CancellationToken cancellationToken)
    {
        if (!Enabled)
        {
            return Disabled;
        }

        if (throttle.TryAcquire(clientIp) is { } wait)
        {
            return new Failure(FailureKind.TooManyRequests, "rate_limited", "Too many attempts from this address.") { RetryAfter = wait };
        }

        if (UsernameRules.CheckEmail(emailAddress) is { } badEmail)
        {
            return badEmail;
        }

        if (username is not null && username.Contains('@', StringComparison.Ordinal)
            && !string.Equals(username, emailAddress, StringComparison.OrdinalIgnoreCase))
        {
            // Sign-in accepts an email where a username goes; a username that is someone else's address would catch it.
            return Failure.Validation("username may contain @ only when it is the account's own email.");
        }

        var actor = Actor.Anonymous(clientIp);
        var chosen = username ?? DefaultUsername(emailAddress);
        var created = await users.CreateAsync(
            actor, new NewUser(chosen, password, Role.User, emailAddress, displayName, RequireVerifiedEmail: true), cancellationToken);
        if (username is null && created.Failure is { Code: "username_taken" })
        {
            created = await users.CreateAsync(
                actor, new NewUser(Suffixed(chosen), password, Role.User, emailAddress, displayName, RequireVerifiedEmail: true), cancellationToken);
        }

        if (created.Value is { } user && !outbox.TryEnqueue(await IssueCodeAsync(user, clientIp, cancellationToken)))
        {
            LogCodeNotQueued(logger, user.Id);
        }

        return created;
    }

    /// <summary>Spends the address's code and marks the email verified; wrong codes count toward the code's limit.</summary>
    public async Task<Result<User>> VerifyEmailAsync(string emailAddress, string code, string? clientIp, CancellationToken cancellationToken)
    {
        if (!Enabled)
        {
            return Disabled;
        }

        var settings = email.Value;
        if (EmailAddresses.Normalize(emailAddress) is not { Length: > 0 and <= 254 } normalized || !EmailCodes.IsWellFormed(code, settings.CodeLength))
        {
            return InvalidCode;
        }

        var now = time.GetUtcNow();
        var (check, userId) = await codes.CheckAsync(normalized, await emailCodes.DigestAsync(normalized, code), settings.MaxCodeAttempts, now, cancellationToken);
        if (check != CodeCheck.Redeemed)
        {
            if (check == CodeCheck.Wrong && await store.FindByEmailAsync(normalized, cancellationToken) is { } owner)
            {
                await audit.AppendAboutUserAsync(time, Actor.Anonymous(clientIp), AccountAuditActions.EmailVerificationFailed, owner.Id);
            }

            return InvalidCode;
        }

        var verified = await store.ChangeAsync(
            cache,
            userId!,
            user => user.NormalizedEmail == normalized && user.Status != UserStatus.Deleted
                ? user with { EmailVerifiedAt = user.EmailVerifiedAt ?? now, UpdatedAt = now }
                : InvalidCode,
            cancellationToken);
        if (verified.Value is { } done)
        {
            await audit.AppendAboutUserAsync(time, new Actor(done.Id, done.Username, clientIp), AccountAuditActions.EmailVerified, done.Id);
        }

        return verified.Failure is { Code: "not_found" } ? InvalidCode : verified;
    }

    /// <summary>Queues a new code for the address if it belongs to an active account whose email is unverified.</summary>
    public Task<Failure?> RequestVerificationAsync(string emailAddress, string? clientIp, CancellationToken cancellationToken) =>
        RequestAsync(emailAddress, "verify", EmailTemplates.VerifyEmail, clientIp, async (normalized, ct) =>
            await store.FindByEmailAsync(normalized, ct) is { IsActive: true, IsEmailVerified: false } user
                ? await IssueCodeAsync(user, clientIp, ct)
                : null, cancellationToken);

    /// <summary>Queues a reset token for the address if it belongs to an active account whose email is verified.</summary>
    public Task<Failure?> RequestPasswordResetAsync(string emailAddress, string? clientIp, CancellationToken cancellationToken) =>
        RequestAsync(emailAddress, "reset", EmailTemplates.PasswordReset, clientIp, async (normalized, ct) =>
        {
            if (await store.FindByEmailAsync(normalized, ct) is not { IsActive: true, IsEmailVerified: true } user
                || (await users.IssuePasswordResetAsync(Actor.Anonymous(clientIp), user.Id, ct)).Value is not { } reset)
            {
                return null;
            }

            var minutes = (int)Math.Ceiling((reset.ExpiresAt - time.GetUtcNow()).TotalMinutes);
            return templates.Render(EmailTemplates.PasswordReset, user.Email!, ("reset_token", reset.Token), ("expires_minutes", Invariant(minutes)));
        }, cancellationToken);

    private async Task<Failure?> RequestAsync(
        string emailAddress, string bucket, string kind, string? clientIp, Func<string, CancellationToken, Task<EmailMessage?>> compose, CancellationToken cancellationToken)
    {
        if (!Enabled)
        {
            return Disabled;
        }

        if (UsernameRules.CheckEmail(emailAddress) is { } badEmail)
        {
            return badEmail;
        }

        var normalized = EmailAddresses.Normalize(emailAddress)!;
        var perHour = registration.Value.EmailsPerAddressPerHour;
        var take = await buckets.TakeAsync($"{bucket}:{EmailAddresses.Key(normalized)}", perHour, perHour / 3600.0, time.GetUtcNow(), cancellationToken);
        if (!take.Admitted)
        {
            // Past the address's limit the answer is still the same 202 (no Retry-After either): a 429 would say
            // that someone asked for this address lately, and a caller could learn that by asking it six times.
            // Nothing is sent. The log names the address only by its keyed pseudonym, as failed sign-ins do.
            LogEmailLimited(logger, bucket, await pseudonyms.OfUsernameAsync(normalized));
            return null;
        }

        return outbox.TryEnqueue(kind, ct => compose(normalized, ct)) ? null : OutboxFull;
    }

    private async Task<EmailMessage> IssueCodeAsync(User user, string? clientIp, CancellationToken cancellationToken)
    {
        var settings = email.Value;
        var normalized = user.NormalizedEmail!;
        var code = EmailCodes.NewCode(settings.CodeLength);
        var now = time.GetUtcNow();
        await codes.PutAsync(
            new EmailCode(normalized, user.Id, await emailCodes.DigestAsync(normalized, code), now, now + settings.CodeLifetime), cancellationToken);
        await audit.AppendAboutUserAsync(time, Actor.Anonymous(clientIp), AccountAuditActions.EmailCodeSent, user.Id);
        return templates.Render(
            EmailTemplates.VerifyEmail, user.Email!, ("code", code), ("expires_minutes", Invariant((int)Math.Ceiling(settings.CodeLifetime.TotalMinutes))));
    }

    /// <summary>The address itself when it is a valid username (the common case), else its local part made one.</summary>
    private static string DefaultUsername(string emailAddress)
    {
        if (UsernameRules.CheckUsername(emailAddress) is null)
        {
            return emailAddress;
        }

        var local = new string([.. emailAddress.Split('@')[0].Where(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-')]).TrimStart('.', '_', '-');
        return Suffixed(local.Length > 0 ? local[..Math.Min(local.Length, 40)] : "user");
    }

    private static string Suffixed(string name) =>
        $"{name[..Math.Min(name.Length, 50)]}-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4))}";

    private static string Invariant(int value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    [LoggerMessage(EventId = 1612, EventName = "EmailRequestOverLimit", Level = LogLevel.Information,
        Message = "A {Request} email was asked for an address past its hourly limit (pseudonym {AddressPseudonym}); answered 202, nothing sent")]
    private static partial void LogEmailLimited(ILogger logger, string request, string addressPseudonym);

    [LoggerMessage(EventId = 1611, EventName = "VerificationCodeNotQueued", Level = LogLevel.Error, Message = "The verification email for new user {UserId} could not be queued; the user can ask for another")]
    private static partial void LogCodeNotQueued(ILogger logger, string userId);
}
