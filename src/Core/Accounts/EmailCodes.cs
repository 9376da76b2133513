using System.Security.Cryptography;
using System.Text;
using IronAuth.Core.Signing;

namespace IronAuth.Core.Accounts;

/// <summary>
/// Makes emailed codes and their digests. A six-digit code has only a million values, so a plain hash of it would be
/// undone by trying them all; the digest is HMAC-SHA256 under a key derived from the installation's signing key
/// (<see cref="SigningMaterial.DeriveSecret"/>, as the audit pseudonyms are), over the address and the code. Someone
/// holding a copy of the store but not the key cannot recover a code; a code is also bound to its address. A signing
/// key rotation within a code's lifetime makes that code fail (the user asks for a new one).
/// </summary>
public sealed class EmailCodes(SigningKeys keys)
{
    private const string Purpose = "email-code-v1";

    public static string NewCode(int length)
    {
        var digits = new char[length];
        for (var i = 0; i < length; i++)
        {
            digits[i] = (char)('0' + RandomNumberGenerator.GetInt32(10));
        }

        return new string(digits);
    }

    public static bool IsWellFormed(string? code, int length) => code is not null && code.Length == length && code.All(char.IsAsciiDigit);

    public async Task<byte[]> DigestAsync(string normalizedEmail, string code)
    {
        var key = (await keys.GetAsync()).DeriveSecret(Purpose);
        return HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(normalizedEmail + "\n" + code));
    }
}
