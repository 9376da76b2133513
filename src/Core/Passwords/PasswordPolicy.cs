using System.Collections.Frozen;
using System.Text;
using IronAuth.Core.Configuration;
using Microsoft.Extensions.Options;

namespace IronAuth.Core.Passwords;

public static class PasswordLimits
{
    /// <summary>bcrypt reads at most 72 bytes; longer passwords are refused rather than silently truncated.</summary>
    public const int MaxBytes = 72;
}

/// <summary>
/// What a new password must satisfy: a minimum length (default 12), at most 72 UTF-8 bytes, not the
/// username, and not one of the 10,000 most common passwords shipped with the code.
/// </summary>
public sealed class PasswordPolicy(IOptions<IronAuthOptions> options)
{
    private static readonly Lazy<FrozenSet<string>> Common = new(LoadCommonPasswords);

    public Failure? Check(string? password, string? username)
    {
        if (string.IsNullOrEmpty(password))
        {
            return Weak("password must not be empty.");
        }

        var minLength = options.Value.Passwords.MinLength;
        if (password.EnumerateRunes().Count() < minLength)
        {
            return Weak($"password must be at least {minLength} characters.");
        }

        if (Encoding.UTF8.GetByteCount(password) > PasswordLimits.MaxBytes)
        {
            return Weak($"password must be at most {PasswordLimits.MaxBytes} bytes in UTF-8.");
        }

        if (username is not null && string.Equals(password, username, StringComparison.OrdinalIgnoreCase))
        {
            return Weak("password must not be the username.");
        }

        if (IsCommon(password))
        {
            return Weak("password is too common; choose a longer or less predictable one.");
        }

        return null;
    }

    public static bool IsCommon(string password) => Common.Value.Contains(password.ToLowerInvariant());

    private static Failure Weak(string detail) => new(FailureKind.Validation, "weak_password", detail);

    private static FrozenSet<string> LoadCommonPasswords()
    {
        using var stream = typeof(PasswordPolicy).Assembly.GetManifestResourceStream("IronAuth.Core.common-passwords.txt")
            ?? throw new InvalidOperationException("The common-password list is missing from the assembly.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var set = new HashSet<string>(StringComparer.Ordinal);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length > 0 && !line.StartsWith('#'))
            {
                set.Add(line.ToLowerInvariant());
            }
        }

        return set.ToFrozenSet(StringComparer.Ordinal);
    }
}
