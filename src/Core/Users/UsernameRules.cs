using System.Net.Mail;

namespace IronAuth.Core.Users;

/// <summary>What a username, email and display name may look like.</summary>
public static class UsernameRules
{
    public const int MinLength = 3;
    public const int MaxLength = 64;

    /// <summary>Usernames are unique case-insensitively; this is the form they are compared in.</summary>
    public static string Normalize(string username) => username.ToLowerInvariant();

    public static Failure? CheckUsername(string? username)
    {
        if (username is null || username.Length is < MinLength or > MaxLength)
        {
            return Failure.Validation($"username must be {MinLength} to {MaxLength} characters.");
        }

        if (!username.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or '@'))
        {
            return Failure.Validation("username may contain only ASCII letters, digits and . _ - @.");
        }

        if (!char.IsAsciiLetterOrDigit(username[0]))
        {
            return Failure.Validation("username must start with a letter or digit.");
        }

        return null;
    }

    public static Failure? CheckEmail(string? email)
    {
        if (email is null)
        {
            return null;
        }

        if (email.Length > 254 || !MailAddress.TryCreate(email, out var parsed) || parsed.Address != email
            || !parsed.Host.Contains('.', StringComparison.Ordinal))
        {
            return Failure.Validation("email must be a plain address such as name@example.com.");
        }

        return null;
    }

    public static Failure? CheckDisplayName(string? displayName)
    {
        if (displayName is null)
        {
            return null;
        }

        if (displayName.Length > 128 || displayName.Any(char.IsControl))
        {
            return Failure.Validation("display_name must be at most 128 characters without control characters.");
        }

        return null;
    }
}
