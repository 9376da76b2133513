using System.Security.Cryptography;
using System.Text;
using IronAuth.Core.Configuration;
using Microsoft.Extensions.Options;

namespace IronAuth.Core.Budgets;

/// <summary>
/// Seals provider credentials (IP tokens) for the store with AES-256-GCM under <c>IronAuth:Budgets:CredentialKey</c>, a
/// key the store never holds: a copy of the database or the tables alone reveals no credential. The budget's id is the
/// associated data, so a sealed credential moved onto another budget does not open. Layout: version (1) | key id (4,
/// the first bytes of SHA-256 of the key, to name a wrong key plainly) | nonce (12) | tag (16) | ciphertext.
/// </summary>
public sealed class ProviderCredentials(IOptions<IronAuthOptions> options)
{
    private const byte Version = 1;
    private const int KeyIdSize = 4;
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private const int HeaderSize = 1 + KeyIdSize + NonceSize + TagSize;

    private readonly byte[]? key = ParseKey(options.Value.Budgets.CredentialKey);

    /// <summary>True when a key is configured.</summary>
    public bool CanSeal => key is not null;

    /// <summary>A valid key: base64 of exactly 32 bytes.</summary>
    public static bool IsValidKey(string? value) => ParseKey(value) is not null;

    public byte[] Seal(string budgetId, string secret)
    {
        var k = key ?? throw new InvalidOperationException("IronAuth:Budgets:CredentialKey is not configured.");
        var plaintext = Encoding.UTF8.GetBytes(secret);
        var sealedSecret = new byte[HeaderSize + plaintext.Length];
        sealedSecret[0] = Version;
        KeyId(k).CopyTo(sealedSecret.AsSpan(1));
        var nonce = sealedSecret.AsSpan(1 + KeyIdSize, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(k, TagSize);
        aes.Encrypt(nonce, plaintext, sealedSecret.AsSpan(HeaderSize), sealedSecret.AsSpan(1 + KeyIdSize + NonceSize, TagSize), Aad(budgetId));
        CryptographicOperations.ZeroMemory(plaintext);
        return sealedSecret;
    }

    /// <summary>The credential, or null when no key is configured or the configured key is not the one that sealed it.</summary>
    /// <exception cref="CryptographicException">The sealed bytes were altered, or belong to another budget.</exception>
    public string? Open(string budgetId, byte[] sealedSecret)
    {
        if (key is not { } k || sealedSecret.Length < HeaderSize || sealedSecret[0] != Version
            || !sealedSecret.AsSpan(1, KeyIdSize).SequenceEqual(KeyId(k)))
        {
            return null;
        }

        var plaintext = new byte[sealedSecret.Length - HeaderSize];
        using var aes = new AesGcm(k, TagSize);
        aes.Decrypt(
            sealedSecret.AsSpan(1 + KeyIdSize, NonceSize), sealedSecret.AsSpan(HeaderSize), sealedSecret.AsSpan(1 + KeyIdSize + NonceSize, TagSize), plaintext, Aad(budgetId));
        return Encoding.UTF8.GetString(plaintext);
    }

    private static byte[] Aad(string budgetId) => Encoding.UTF8.GetBytes("ironauth-budget-credential:" + budgetId);

    private static byte[] KeyId(byte[] k) => SHA256.HashData(k)[..KeyIdSize];

    private static byte[]? ParseKey(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        var buffer = new byte[48];
        return Convert.TryFromBase64String(value.Trim(), buffer, out var written) && written == 32 ? buffer[..32] : null;
    }
}
