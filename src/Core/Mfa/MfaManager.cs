using System.Security.Cryptography;
using IronAuth.Core.Audit;
using IronAuth.Core.Caching;
using IronAuth.Core.Configuration;
using IronAuth.Core.Sessions;
using IronAuth.Core.Users;
using Microsoft.Extensions.Options;
using OtpNet;
using QRCoder;

namespace IronAuth.Core.Mfa;

/// <summary>What enrolling hands the user once: the secret, as text, as an otpauth URI and as a QR code.</summary>
public sealed record TotpSetup(string Secret, string OtpauthUri, string QrSvg);

/// <summary>Audit actions of two-factor sign-in.</summary>
public static class MfaAuditActions
{
    public const string TotpEnrolmentStarted = "mfa.totp_enrolment_started";
    public const string TotpEnrolmentRefused = "mfa.totp_enrolment_refused";
    public const string TotpEnabled = "mfa.totp_enabled";
    public const string TotpDisabled = "mfa.totp_disabled";
    public const string Reset = "mfa.reset";
    public const string CodeFailed = "mfa.code_failed";
    public const string RecoveryCodeUsed = "mfa.recovery_code_used";
}

/// <summary>
/// TOTP two-factor (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits, one step of drift either way) with ten single-use
/// recovery codes. A code is checked under the account's lockout, like a password (<see cref="Lockout"/>): the try is
/// counted in one conditional write of the user before it is checked, and a right code clears the count. A TOTP code
/// is accepted once: its time step must be later than the last accepted one, recorded in one conditional write
/// (<see cref="IMfaStore.AcceptStepAsync"/>), so the same code (or an older one) replayed within its window fails.
/// </summary>
public sealed class MfaManager(
    IMfaStore store,
    IUserStore users,
    IAuditStore audit,
    TotpSecrets secrets,
    PasswordAttempts attempts,
    CredentialCache cache,
    IOptions<MfaOptions> options,
    IOptions<IronAuthOptions> core,
    TimeProvider time)
{
    public const int RecoveryCodeCount = 10;
    private const int SecretBytes = 20;
    private const string RecoveryAlphabet = "abcdefghjkmnpqrstuvwxyz23456789";

    private static readonly Failure InvalidCode = new(FailureKind.Validation, "invalid_code", "The code is wrong or was already used.");

    private static readonly Failure InvalidMfaToken =
        new(FailureKind.Unauthorized, "invalid_mfa_token", "The mfa_token is invalid, expired or already used; sign in again.");

    public async Task<bool> IsEnabledAsync(string userId, CancellationToken cancellationToken) =>
        await store.FindTotpAsync(userId, cancellationToken) is { IsConfirmed: true };

    /// <summary>
    /// Starts (or restarts) enrolment with a new secret; refused while TOTP is on (turn it off first). The user proves
    /// its password first, under sign-in's lockout: a stolen access token must not enrol its holder's authenticator and
    /// so lock the owner out of its own account.
    /// </summary>
    public async Task<Result<TotpSetup>> BeginAsync(Actor actor, User user, string currentPassword, CancellationToken cancellationToken)
    {
        if ((await attempts.CheckAsync(user, currentPassword, actor, MfaAuditActions.TotpEnrolmentRefused, PasswordAttempts.WrongCurrentPassword, cancellationToken)).Failure is { } refused)
        {
            return refused;
        }

        var secret = RandomNumberGenerator.GetBytes(SecretBytes);
        var now = time.GetUtcNow();
        var enrolment = new TotpEnrolment(user.Id, await secrets.ProtectAsync(user.Id, secret), now, null, -1);
        if (!await store.BeginTotpAsync(enrolment, cancellationToken))
        {
            return Failure.Conflict("mfa_already_enabled", "Two-factor sign-in is already on; turn it off first to enrol a new authenticator.");
        }

        await audit.AppendAboutUserAsync(time, actor, MfaAuditActions.TotpEnrolmentStarted, user.Id);
        var text = Base32Encoding.ToString(secret);
        var issuer = options.Value.Issuer;
        var uri = $"otpauth://totp/{Uri.EscapeDataString(issuer)}:{Uri.EscapeDataString(user.Username)}"
            + $"?secret={text}&issuer={Uri.EscapeDataString(issuer)}&algorithm=SHA1&digits=6&period=30";
        using var qr = QRCodeGenerator.GenerateQrCode(uri, QRCodeGenerator.ECCLevel.M);
        return new TotpSetup(text, uri, new SvgQRCode(qr).GetGraphic(4));
    }

    /// <summary>Confirms enrolment with a first code from the authenticator; returns the recovery codes, shown once.</summary>
    public async Task<Result<IReadOnlyList<string>>> ConfirmAsync(Actor actor, User user, string code, CancellationToken cancellationToken)
    {
        if (await store.FindTotpAsync(user.Id, cancellationToken) is not { IsConfirmed: false } enrolment)
        {
            return Failure.Conflict("no_pending_enrolment", "There is no enrolment to confirm; start one with POST /api/auth/mfa/totp.");
        }

        if (await secrets.UnprotectAsync(user.Id, enrolment.ProtectedSecret) is not { } secret || MatchStep(secret, code) is not { } step)
        {
            return InvalidCode;
        }

        var codes = Enumerable.Range(0, RecoveryCodeCount).Select(_ => NewRecoveryCode()).ToList();
        if (!await store.ConfirmTotpAsync(
            user.Id, enrolment.ProtectedSecret, step, [.. codes.Select(c => RecoveryDigest(user.Id, c))], time.GetUtcNow(), cancellationToken))
        {
            return Failure.Conflict("concurrent_update", "The enrolment changed meanwhile; start again.");
        }

        await audit.AppendAboutUserAsync(time, actor, MfaAuditActions.TotpEnabled, user.Id);
        return codes;
    }

    /// <summary>Turns TOTP off with a current code (TOTP or recovery), checked under the lockout.</summary>
    public async Task<Result<bool>> DisableAsync(Actor actor, User user, string code, CancellationToken cancellationToken)
    {
        if (!await IsEnabledAsync(user.Id, cancellationToken))
        {
            return Failure.Conflict("mfa_not_enabled", "Two-factor sign-in is not on.");
        }

        var checkedCode = await CheckCodeAsync(user, code, actor, InvalidCode, cancellationToken);
        if (checkedCode.Failure is { } failure)
        {
            return failure;
        }

        await store.RemoveTotpAsync(user.Id, cancellationToken);
        await audit.AppendAboutUserAsync(time, actor, MfaAuditActions.TotpDisabled, user.Id);
        return true;
    }

    /// <summary>An admin turns a user's two-factor sign-in off (a lost authenticator and no recovery codes).</summary>
    public async Task<Result<User>> ResetAsync(Actor actor, string userId, CancellationToken cancellationToken)
    {
        if (!Ids.IsWellFormed(userId) || await users.FindByIdAsync(userId, cancellationToken) is not { } user)
        {
            return Failure.NotFound("User");
        }

        var removed = await store.RemoveTotpAsync(userId, cancellationToken);
        await audit.AppendAboutUserAsync(time, actor, MfaAuditActions.Reset, userId, ("had_totp", removed ? "true" : "false"));
        return user;
    }

    /// <summary>A pending sign-in for a user who proved the password; its token is shown once, stored as a digest.</summary>
    public async Task<string> IssueChallengeAsync(User user, CancellationToken cancellationToken)
    {
        var token = Ids.NewSecret();
        await store.AddChallengeAsync(new MfaChallenge(Ids.Digest(token), user.Id, time.GetUtcNow() + options.Value.TokenLifetime), cancellationToken);
        return token;
    }

    /// <summary>
    /// Completes a pending sign-in: spends the <c>mfa_token</c> first (single use: a wrong code means signing in again),
    /// then checks the code under the lockout. Returns the user to start a session for.
    /// </summary>
    public async Task<Result<User>> CompleteAsync(string mfaToken, string code, string? clientIp, CancellationToken cancellationToken)
    {
        if (mfaToken is not { Length: 43 }
            || await store.SpendChallengeAsync(Ids.Digest(mfaToken), time.GetUtcNow(), cancellationToken) is not { } userId
            || await users.FindByIdAsync(userId, cancellationToken) is not { IsActive: true } user)
        {
            return InvalidMfaToken;
        }

        var wrong = new Failure(FailureKind.Unauthorized, "invalid_code", "The code is wrong or was already used; sign in again.");
        return await CheckCodeAsync(user, code, new Actor(user.Id, user.Username, clientIp), wrong, cancellationToken);
    }

    /// <summary>A TOTP code (six digits) or a recovery code, counted toward the lockout before it is checked.</summary>
    private async Task<Result<User>> CheckCodeAsync(User user, string code, Actor actor, Failure wrong, CancellationToken cancellationToken)
    {
        var login = core.Value.Login;
        var reserved = await users.ChangeAsync(
            cache,
            user.Id,
            current => current.Status == UserStatus.Deleted ? Failure.NotFound("User") : Lockout.Reserve(current, login, time.GetUtcNow()),
            cancellationToken);
        if (reserved.Failure is { } refused)
        {
            await audit.AppendAboutUserAsync(time, actor, MfaAuditActions.CodeFailed, user.Id, ("reason", refused.Code));
            return refused.Code == "not_found" ? wrong : refused;
        }

        var accepted = false;
        var kind = "totp";
        var normalized = code.Replace("-", "", StringComparison.Ordinal).Replace(" ", "", StringComparison.Ordinal).ToLowerInvariant();
        if (normalized.Length == 6 && normalized.All(char.IsAsciiDigit))
        {
            if (await store.FindTotpAsync(user.Id, cancellationToken) is { IsConfirmed: true } enrolment
                && await secrets.UnprotectAsync(user.Id, enrolment.ProtectedSecret) is { } secret
                && MatchStep(secret, normalized) is { } step)
            {
                accepted = await store.AcceptStepAsync(user.Id, step, cancellationToken);
            }
        }
        else if (normalized.Length == 10 && normalized.All(RecoveryAlphabet.Contains))
        {
            kind = "recovery_code";
            accepted = await store.SpendRecoveryCodeAsync(user.Id, RecoveryDigest(user.Id, normalized), time.GetUtcNow(), cancellationToken);
        }

        if (!accepted)
        {
            await audit.AppendAboutUserAsync(time, actor, MfaAuditActions.CodeFailed, user.Id, ("reason", "invalid_code"));
            return wrong;
        }

        if (kind == "recovery_code")
        {
            await audit.AppendAboutUserAsync(time, actor, MfaAuditActions.RecoveryCodeUsed, user.Id);
        }

        var cleared = await users.ChangeAsync(cache, user.Id, current => Lockout.RecordSuccess(current, time.GetUtcNow()), cancellationToken);
        return cleared.Value ?? reserved.Value!;
    }

    /// <summary>The RFC 6238 time step a code matches (this step or one either side), or null.</summary>
    private long? MatchStep(byte[] secret, string code)
    {
        var totp = new Totp(secret, step: 30, mode: OtpHashMode.Sha1, totpSize: 6);
        return totp.VerifyTotp(time.GetUtcNow().UtcDateTime, code, out var step, new VerificationWindow(previous: 1, future: 1)) ? step : null;
    }

    private static string NewRecoveryCode()
    {
        var chars = new char[10];
        for (var i = 0; i < chars.Length; i++)
        {
            chars[i] = RecoveryAlphabet[RandomNumberGenerator.GetInt32(RecoveryAlphabet.Length)];
        }

        return new string(chars);
    }

    /// <summary>Recovery codes carry ~49 bits of randomness, so a plain SHA-256 (bound to the user) is digest enough.</summary>
    private static byte[] RecoveryDigest(string userId, string normalizedCode) => Ids.Digest(userId + ":" + normalizedCode);
}
