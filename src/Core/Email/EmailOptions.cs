using Microsoft.Extensions.Options;

namespace IronAuth.Core.Email;

/// <summary>How IronAuth sends email (<c>IronAuth:Email</c>). No sender is configured by default.</summary>
public sealed class EmailOptions
{
    public const string SectionName = "IronAuth:Email";

    /// <summary>The From address, e.g. <c>IronAuth &lt;no-reply@example.com&gt;</c>; needed whenever a sender is configured.</summary>
    public string? From { get; set; }

    /// <summary>The name messages use for the service ("Your {ServiceName} verification code").</summary>
    public string ServiceName { get; set; } = "IronAuth";

    /// <summary>For local runs: write each message as an .eml file here instead of sending it.</summary>
    public string? PickupDirectory { get; set; }

    public SmtpOptions Smtp { get; set; } = new();

    /// <summary>A folder of templates that replace the built-in ones file by file (see docs/accounts.md).</summary>
    public string? TemplateDirectory { get; set; }

    /// <summary>Digits in an emailed verification code.</summary>
    public int CodeLength { get; set; } = 6;

    public TimeSpan CodeLifetime { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Wrong tries after which a code is dead, right or not.</summary>
    public int MaxCodeAttempts { get; set; } = 5;

    /// <summary>Messages waiting to be sent; when full, a request that would send one is answered 503.</summary>
    public int QueueCapacity { get; set; } = 1000;

    /// <summary>How long one delivery attempt (connect, authenticate, send) may take.</summary>
    public TimeSpan SendTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Delivery attempts per message before it is given up (and logged as failed).</summary>
    public int MaxSendAttempts { get; set; } = 5;

    /// <summary>The wait after the first failed attempt; it doubles after each further one.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Messages sent at once.</summary>
    public int MaxConcurrentSends { get; set; } = 2;

    /// <summary>Whether some sender is configured.</summary>
    public bool HasSender => !string.IsNullOrWhiteSpace(Smtp.Host) || !string.IsNullOrWhiteSpace(PickupDirectory);
}

public enum SmtpSecurity
{
    /// <summary>STARTTLS when the server offers it, TLS from the start on port 465.</summary>
    Auto,

    /// <summary>Plain text; for a relay on the same host or network only.</summary>
    None,

    StartTls,

    SslOnConnect,
}

public sealed class SmtpOptions
{
    public string? Host { get; set; }

    public int Port { get; set; } = 587;

    public string? Username { get; set; }

    /// <summary>A Key Vault reference in Azure; never logged.</summary>
    public string? Password { get; set; }

    public SmtpSecurity Security { get; set; } = SmtpSecurity.Auto;
}

/// <summary>Checks the email settings at start and names each bad one.</summary>
public sealed class EmailOptionsValidator : IValidateOptions<EmailOptions>
{
    public ValidateOptionsResult Validate(string? name, EmailOptions options)
    {
        var errors = new List<string>();
        if (!string.IsNullOrWhiteSpace(options.Smtp.Host) && !string.IsNullOrWhiteSpace(options.PickupDirectory))
        {
            errors.Add("Set only one of IronAuth:Email:Smtp:Host and IronAuth:Email:PickupDirectory.");
        }

        if (options.HasSender && (string.IsNullOrWhiteSpace(options.From) || !MimeKit.MailboxAddress.TryParse(options.From, out _)))
        {
            errors.Add($"IronAuth:Email:From must be a mail address (e.g. IronAuth <no-reply@example.com>) when a sender is configured (was '{options.From}').");
        }

        if (options.Smtp.Port is < 1 or > 65535)
        {
            errors.Add($"IronAuth:Email:Smtp:Port must be between 1 and 65535 (was {options.Smtp.Port}).");
        }

        if (string.IsNullOrWhiteSpace(options.Smtp.Username) != string.IsNullOrWhiteSpace(options.Smtp.Password))
        {
            errors.Add("IronAuth:Email:Smtp:Username and IronAuth:Email:Smtp:Password must be set together.");
        }

        if (string.IsNullOrWhiteSpace(options.ServiceName) || options.ServiceName.Length > 100 || options.ServiceName.Any(char.IsControl))
        {
            errors.Add("IronAuth:Email:ServiceName must be 1 to 100 characters without control characters.");
        }

        if (options.TemplateDirectory is { } templates && !Directory.Exists(templates))
        {
            errors.Add($"IronAuth:Email:TemplateDirectory must be an existing folder (was '{templates}').");
        }

        if (options.CodeLength is < 6 or > 9)
        {
            errors.Add($"IronAuth:Email:CodeLength must be between 6 and 9 (was {options.CodeLength}).");
        }

        if (options.CodeLifetime < TimeSpan.FromMinutes(1) || options.CodeLifetime > TimeSpan.FromDays(1))
        {
            errors.Add($"IronAuth:Email:CodeLifetime must be between 00:01:00 and 1.00:00:00 (was {options.CodeLifetime}).");
        }

        if (options.MaxCodeAttempts is < 1 or > 20)
        {
            errors.Add($"IronAuth:Email:MaxCodeAttempts must be between 1 and 20 (was {options.MaxCodeAttempts}).");
        }

        if (options.QueueCapacity is < 1 or > 100_000)
        {
            errors.Add($"IronAuth:Email:QueueCapacity must be between 1 and 100000 (was {options.QueueCapacity}).");
        }

        if (options.SendTimeout < TimeSpan.FromSeconds(1) || options.SendTimeout > TimeSpan.FromMinutes(5))
        {
            errors.Add($"IronAuth:Email:SendTimeout must be between 00:00:01 and 00:05:00 (was {options.SendTimeout}).");
        }

        if (options.MaxSendAttempts is < 1 or > 20)
        {
            errors.Add($"IronAuth:Email:MaxSendAttempts must be between 1 and 20 (was {options.MaxSendAttempts}).");
        }

        if (options.RetryDelay < TimeSpan.Zero || options.RetryDelay > TimeSpan.FromMinutes(10))
        {
            errors.Add($"IronAuth:Email:RetryDelay must be between 00:00:00 and 00:10:00 (was {options.RetryDelay}).");
        }

        if (options.MaxConcurrentSends is < 1 or > 64)
        {
            errors.Add($"IronAuth:Email:MaxConcurrentSends must be between 1 and 64 (was {options.MaxConcurrentSends}).");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
