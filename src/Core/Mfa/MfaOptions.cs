using Microsoft.Extensions.Options;

namespace IronAuth.Core.Mfa;

/// <summary>Two-factor sign-in (<c>IronAuth:Mfa</c>).</summary>
public sealed class MfaOptions
{
    public const string SectionName = "IronAuth:Mfa";

    /// <summary>The issuer authenticator apps show next to the account (the otpauth URI's <c>issuer</c>).</summary>
    public string Issuer { get; set; } = "IronAuth";

    /// <summary>How long the <c>mfa_token</c> of a sign-in that needs a second factor stays usable.</summary>
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Base64 of 32 random bytes (a Key Vault reference in Azure) that TOTP secrets are encrypted under. Without it they
    /// are encrypted under a key derived from the signing key active at enrolment (see docs/accounts.md).
    /// </summary>
    public string? EncryptionKey { get; set; }
}

public sealed class MfaOptionsValidator : IValidateOptions<MfaOptions>
{
    public ValidateOptionsResult Validate(string? name, MfaOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Issuer) || options.Issuer.Length > 100 || options.Issuer.Contains(':', StringComparison.Ordinal))
        {
            errors.Add("IronAuth:Mfa:Issuer must be 1 to 100 characters without ':'.");
        }

        if (options.TokenLifetime < TimeSpan.FromMinutes(1) || options.TokenLifetime > TimeSpan.FromMinutes(30))
        {
            errors.Add($"IronAuth:Mfa:TokenLifetime must be between 00:01:00 and 00:30:00 (was {options.TokenLifetime}).");
        }

        // Empty is unset: an app setting that references no secret (the Bicep's default) is an empty string.
        if (!string.IsNullOrWhiteSpace(options.EncryptionKey) && (!TryDecode(options.EncryptionKey, out var bytes) || bytes.Length != 32))
        {
            errors.Add("IronAuth:Mfa:EncryptionKey must be the base64 of exactly 32 random bytes (e.g. `openssl rand -base64 32`).");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    internal static bool TryDecode(string base64, out byte[] bytes)
    {
        bytes = new byte[base64.Length];
        if (Convert.TryFromBase64String(base64.Trim(), bytes, out var written))
        {
            bytes = bytes[..written];
            return true;
        }

        return false;
    }
}
