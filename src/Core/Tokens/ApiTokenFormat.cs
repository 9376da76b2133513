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
    public static bool IsWellFormed(string? token) => HasShape(token) && HasValidChecksum(token!);

    /// <summary>True when the token has the prefix, length and characters of one (not checking its checksum).</summary>
    public static bool HasShape(string? token)
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

        return true;
    }

    /// <summary>True when a token of the right shape (<see cref="HasShape"/>) carries the checksum of the rest.</summary>
    public static bool HasValidChecksum(string token)
    {
        // Every character is ASCII (the shape): check the checksum on the stack, without allocating.
        Span<byte> ascii = stackalloc byte[Length];
        Encoding.ASCII.GetBytes(token, ascii);
        Span<byte> expected = stackalloc byte[ChecksumLength];
        Base64Url.EncodeToUtf8(ChecksumBits(ascii[..^ChecksumLength], stackalloc byte[32]), expected);
        return CryptographicOperations.FixedTimeEquals(expected, ascii[^ChecksumLength..]);
    }

    public static string DisplayPrefix(string token) => token[..DisplayLength];

    private static string Checksum(string body) =>
        Base64Url.EncodeToString(ChecksumBits(Encoding.ASCII.GetBytes(body), stackalloc byte[32]));

    // The first 4 bytes of SHA-256, which encode to 6 base64url characters.
    private static ReadOnlySpan<byte> ChecksumBits(ReadOnlySpan<byte> body, Span<byte> hash)
    {
        SHA256.HashData(body, hash);
        return hash[..4];
    }
}
