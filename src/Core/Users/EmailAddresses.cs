using System.Security.Cryptography;
using System.Text;

namespace IronAuth.Core.Users;

/// <summary>How email addresses are compared and keyed.</summary>
public static class EmailAddresses
{
    /// <summary>
    /// Emails are unique case-insensitively, over the whole address: strictly the local part may be case-sensitive,
    /// but no mail system in use treats it so, and two accounts differing only in case would be a trap.
    /// </summary>
    public static string? Normalize(string? email) => email?.Trim().ToLowerInvariant();

    /// <summary>
    /// A key for stores that cannot take every character an address may hold (Table Storage keys): the hex
    /// SHA-256 of the normalized address. Not a secret-keeping measure; only a safe, fixed-length key.
    /// </summary>
    public static string Key(string normalizedEmail) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(normalizedEmail)));
}
