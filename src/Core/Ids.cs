using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace IronAuth.Core;

/// <summary>Identifiers, secrets and digests.</summary>
public static class Ids
{
    /// <summary>A new time-ordered identifier (UUIDv7, 32 hex characters), so ids sort by creation.</summary>
    public static string New(TimeProvider time) => Guid.CreateVersion7(time.GetUtcNow()).ToString("N");

    /// <summary>True when <paramref name="value"/> has the shape of an id from <see cref="New"/>.</summary>
    public static bool IsWellFormed(string? value) =>
        value is { Length: 32 } && value.All(char.IsAsciiHexDigitLower);

    /// <summary>A secret of <paramref name="bytes"/> random bytes from the OS CSPRNG, base64url without padding.</summary>
    public static string NewSecret(int bytes = 32)
    {
        Span<byte> buffer = stackalloc byte[bytes];
        RandomNumberGenerator.Fill(buffer);
        return Base64Url.EncodeToString(buffer);
    }

    /// <summary>The SHA-256 digest under which a secret is stored; the secret itself never is.</summary>
    public static byte[] Digest(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));
}
