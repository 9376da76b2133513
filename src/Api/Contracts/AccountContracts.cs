namespace IronAuth.Api.Contracts;

public sealed record RegisterRequest
{
    public required string Email { get; init; }

    public required string Password { get; init; }

    public string? Username { get; init; }

    public string? DisplayName { get; init; }
}

public sealed record VerifyEmailRequest
{
    public required string Email { get; init; }

    public required string Code { get; init; }
}

/// <summary>The body of a verification resend or a password-reset request.</summary>
public sealed record EmailRequest
{
    public required string Email { get; init; }
}

/// <summary>POST /auth/mfa/totp: the signed-in user proves its password before enrolling an authenticator.</summary>
public sealed record TotpBeginRequest
{
    public required string CurrentPassword { get; init; }
}

/// <summary>A TOTP, or a recovery code where one is accepted.</summary>
public sealed record MfaCodeRequest
{
    public required string Code { get; init; }
}

public sealed record MfaVerifyRequest
{
    public required string MfaToken { get; init; }

    public required string Code { get; init; }
}

/// <summary>Shown once: the secret as text, as an otpauth URI, and as an SVG QR code of that URI.</summary>
public sealed record TotpSetupResponse(string Secret, string OtpauthUri, string QrSvg);

/// <summary>Shown once; each works once in place of a TOTP code.</summary>
public sealed record RecoveryCodesResponse(IReadOnlyList<string> RecoveryCodes);

public sealed record FederatedSignInRequest
{
    /// <summary>A configured provider's name (<c>IronAuth:Federation:Providers:{name}</c>).</summary>
    public required string Provider { get; init; }

    public required string IdToken { get; init; }
}
