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
/// What a new password must satisfy: a minimum length (default 12), at most 72 UTF-8 bytes, not the username, not
/// one of the 10,000 most common passwords shipped with the code, and a zxcvbn strength score of at least
/// <see cref="PasswordOptions.MinStrength"/> (default 3 of 4), judged with the username and email as words an
/// attacker would try first.
/// </summary>
/// <remarks>
/// Length alone lets long but predictable passwords through (<c>password1234</c>, <c>qwertyuiop123</c>,
/// <c>iloveyou1234</c>), and with a 12-character minimum only 58 of the 10,000 listed passwords can ever match.
/// zxcvbn estimates how many guesses a cracker trying dictionaries (common passwords, English words, names),
/// l33t substitutions, keyboard walks, sequences, repeats, dates and the user's own name needs; score 3 means
/// more than about 10^8 guesses. A few unrelated words (<c>analytical-engine-1843</c>) pass. One check costs about
/// 1 ms for a typical passphrase and up to ~70 ms for a 72-character string of l33t symbols on the build machine
/// (the first check also loads the dictionaries, ~120 ms); it only runs where a password is set.
/// </remarks>
public sealed class PasswordPolicy(IOptions<IronAuthOptions> options)
{
    private static readonly Lazy<FrozenSet<string>> Common = new(LoadCommonPasswords);

    // One estimator for the process: building one loads its dictionaries (~70 ms); evaluating is thread-safe
    // (its matchers only read them).
    private static readonly Lazy<Zxcvbn.Zxcvbn> Estimator = new(() => new Zxcvbn.Zxcvbn());

    public Failure? Check(string? password, string? username, string? email = null)
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

        var minStrength = options.Value.Passwords.MinStrength;
        if (minStrength > 0 && Strength(password, username, email) is var score && score < minStrength)
        {
            return Weak(
                $"password is too easy to guess (strength {score} of 4, at least {minStrength} needed): avoid common words and passwords, "
                + "names, dates, keyboard patterns, sequences, repeats and your username; a few unrelated words make a strong passphrase.");
        }

        return null;
    }

    /// <summary>The zxcvbn score, 0 (guessed in under ~10^2 tries) to 4 (over ~10^10), with the account's own words as dictionary.</summary>
    public static int Strength(string password, string? username, string? email)
    {
        var inputs = new List<string>(4);
        if (!string.IsNullOrEmpty(username))
        {
            inputs.Add(username.ToLowerInvariant());
        }

        if (!string.IsNullOrEmpty(email))
        {
            inputs.Add(email.ToLowerInvariant());
            inputs.AddRange(email.ToLowerInvariant().Split('@', '.', '+', '-', '_').Where(part => part.Length >= 3));
        }

        return Estimator.Value.EvaluatePassword(password, inputs).Score;
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
