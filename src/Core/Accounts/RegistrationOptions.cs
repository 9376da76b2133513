using IronAuth.Core.Email;
using Microsoft.Extensions.Options;

namespace IronAuth.Core.Accounts;

/// <summary>Self-service accounts (<c>IronAuth:Registration</c>): sign-up, email verification and reset by email.</summary>
public sealed class RegistrationOptions
{
    public const string SectionName = "IronAuth:Registration";

    /// <summary>Off by default: then /auth/register, /auth/verify-email(/resend) and /auth/password-reset/request answer 404.</summary>
    public bool Enabled { get; set; }

    /// <summary>Verification (re)sends and reset requests one address may ask for per hour, each counted apart.</summary>
    public int EmailsPerAddressPerHour { get; set; } = 5;
}

/// <summary>Registration needs a way to send its codes: it refuses to start without one, naming the settings.</summary>
public sealed class RegistrationOptionsValidator(IOptions<EmailOptions> email) : IValidateOptions<RegistrationOptions>
{
    public ValidateOptionsResult Validate(string? name, RegistrationOptions options)
    {
        var errors = new List<string>();
        if (options.Enabled && !email.Value.HasSender)
        {
            errors.Add(
                "IronAuth:Registration:Enabled needs an email sender: set IronAuth:Email:Smtp:Host (with IronAuth:Email:From) "
                + "or, for local runs, IronAuth:Email:PickupDirectory.");
        }

        if (options.EmailsPerAddressPerHour is < 1 or > 100)
        {
            errors.Add($"IronAuth:Registration:EmailsPerAddressPerHour must be between 1 and 100 (was {options.EmailsPerAddressPerHour}).");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
