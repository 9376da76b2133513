using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;

namespace IronAuth.Tests.Accounts;

/// <summary>
/// TOTP (RFC 6238 over RFC 4226's HOTP) written out here, apart from the implementation under test, and checked
/// against the RFC's own test vectors; the end-to-end tests compute their codes with it.
/// </summary>
internal static class Rfc6238
{
    public static long Step(DateTimeOffset at) => at.ToUnixTimeSeconds() / 30;

    public static string Code(byte[] key, long step, int digits = 6, string algorithm = "SHA1")
    {
        var counter = new byte[8];
        BinaryPrimitives.WriteInt64BigEndian(counter, step);
        var hash = algorithm switch
        {
            "SHA1" => HMACSHA1.HashData(key, counter),
            "SHA256" => HMACSHA256.HashData(key, counter),
            "SHA512" => HMACSHA512.HashData(key, counter),
            _ => throw new ArgumentOutOfRangeException(nameof(algorithm)),
        };

        // RFC 4226 §5.3, dynamic truncation.
        var offset = hash[^1] & 0x0f;
        var binary = ((hash[offset] & 0x7f) << 24) | (hash[offset + 1] << 16) | (hash[offset + 2] << 8) | hash[offset + 3];
        var modulus = (int)Math.Pow(10, digits);
        return (binary % modulus).ToString(CultureInfo.InvariantCulture).PadLeft(digits, '0');
    }

    /// <summary>RFC 4648 base32 (upper case, padding optional), as authenticator apps read the secret.</summary>
    public static byte[] Base32(string text)
    {
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var bits = 0;
        var value = 0;
        var bytes = new List<byte>();
        foreach (var c in text.TrimEnd('=').ToUpperInvariant())
        {
            value = (value << 5) | Alphabet.IndexOf(c, StringComparison.Ordinal);
            bits += 5;
            if (bits >= 8)
            {
                bytes.Add((byte)(value >> (bits - 8)));
                bits -= 8;
            }
        }

        return [.. bytes];
    }
}

public sealed class Rfc6238Tests
{
    private static readonly byte[] Sha1Seed = "12345678901234567890"u8.ToArray();
    private static readonly byte[] Sha256Seed = "12345678901234567890123456789012"u8.ToArray();
    private static readonly byte[] Sha512Seed = "1234567890123456789012345678901234567890123456789012345678901234"u8.ToArray();

    // RFC 6238 Appendix B.
    [Theory]
    [InlineData(59L, "94287082", "46119246", "90693936")]
    [InlineData(1111111109L, "07081804", "68084774", "25091201")]
    [InlineData(1111111111L, "14050471", "67062674", "99943326")]
    [InlineData(1234567890L, "89005924", "91819424", "93441116")]
    [InlineData(2000000000L, "69279037", "90698825", "38618901")]
    [InlineData(20000000000L, "65353130", "77737706", "47863826")]
    public void The_test_implementation_gives_the_rfc_6238_test_vectors(long unixSeconds, string sha1, string sha256, string sha512)
    {
        var step = Rfc6238.Step(DateTimeOffset.FromUnixTimeSeconds(unixSeconds));

        Assert.Equal(sha1, Rfc6238.Code(Sha1Seed, step, 8, "SHA1"));
        Assert.Equal(sha256, Rfc6238.Code(Sha256Seed, step, 8, "SHA256"));
        Assert.Equal(sha512, Rfc6238.Code(Sha512Seed, step, 8, "SHA512"));
    }

    [Fact]
    public void Base32_decodes_the_rfc_4648_test_vector() =>
        Assert.Equal("foobar"u8.ToArray(), Rfc6238.Base32("MZXW6YTBOI======"));
}
