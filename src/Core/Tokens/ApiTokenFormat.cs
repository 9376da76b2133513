using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace IronAuth.Core.Tokens;

/// <summary>
/// API tokens look like <c>iron_</c> + 43 characters of base64url (256 random bits) + a 6-character
/// checksum (the first 32 bits of SHA-256 over the rest, base64url). The checksum lets a mistyped or
/// truncated token be refused without a store lookup, and the fixed shape
/// (<c>iron_[A-Za-z0-9_-]{49}</c>) lets secret scanners find leaked tokens.
/// </summary>
public static class ApiTokenFormat
{
    public const string Prefix = "iron_";
    public const int SecretLength = 43;
    public const int ChecksumLength = 6;
    public const int Length = 5 + SecretLength + ChecksumLength;

    /// <summary>How much of a token is kept in clear for display: the prefix and 8 characters (48 bits).</summary>
    public const int DisplayLength = 5 + 8;

    public static string New()
    {
        var body = Prefix + Ids.NewSecret(32);
        return body + Checksum(body);
    }

    /// <summary>True when the token has the right shape and checksum; says nothing about whether it exists.</summary>
    public static bool IsWellFormed(string? token)
    {
        if (token is not { Length: Length } || !token.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var rest = token.AsSpan(Prefix.Length);
        foreach (var c in rest)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not '-' and not '_')
            {
                return false;
            }
        }

        var expected = Checksum(token[..^ChecksumLength]);
        return CryptographicOperations.FixedTimeEquals(
            Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(token[^ChecksumLength..]));
    }

    public static string DisplayPrefix(string token) => token[..DisplayLength];

    private static string Checksum(string body)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.ASCII.GetBytes(body), hash);
        // 4 bytes encode to 6 base64url characters.
        return Base64Url.EncodeToString(hash[..4]);
    }
}
