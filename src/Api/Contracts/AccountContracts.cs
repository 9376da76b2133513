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
