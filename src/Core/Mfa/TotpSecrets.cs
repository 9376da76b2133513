using System.Security.Cryptography;
using System.Text;
using IronAuth.Core.Signing;
using Microsoft.Extensions.Options;

namespace IronAuth.Core.Mfa;

/// <summary>
/// Encrypts TOTP secrets for storage: AES-256-GCM, the user id as associated data (a secret copied onto another user's
/// row does not decrypt), stored as <c>v1.{key}.{base64 nonce|ciphertext|tag}</c>. The key is HKDF-SHA256 of
/// <see cref="MfaOptions.EncryptionKey"/> when configured (<c>{key}</c> = <c>cfg</c>); otherwise of the signing key
/// active at enrolment (<see cref="SigningMaterial.DeriveSecret"/>; <c>{key}</c> = its kid), which decrypts for as
/// long as that signing key is active or passive. A TOTP secret must be readable, not only comparable (the server
/// computes the expected code), so it cannot be a digest; encryption means a copy of the store alone does not give
/// away anyone's second factor.
/// </summary>
public sealed class TotpSecrets(IOptions<MfaOptions> options, SigningKeys keys)
{
    private const string Purpose = "totp-secret-v1";
    private const string Configured = "cfg";

    public async Task<string> ProtectAsync(string userId, byte[] secret)
    {
        var (name, key) = await CurrentKeyAsync();
        var nonce = RandomNumberGenerator.GetBytes(AesGcm.NonceByteSizes.MaxSize);
        var cipher = new byte[secret.Length];
        var tag = new byte[AesGcm.TagByteSizes.MaxSize];
        using (var aes = new AesGcm(key, tag.Length))
        {
            aes.Encrypt(nonce, secret, cipher, tag, Encoding.UTF8.GetBytes(userId));
        }

        return $"v1.{name}.{Convert.ToBase64String([.. nonce, .. cipher, .. tag])}";
    }

    /// <summary>The secret, or null when it cannot be decrypted (its key is gone, or it was tampered with).</summary>
    public async Task<byte[]?> UnprotectAsync(string userId, string stored)
    {
        var parts = stored.Split('.');
        if (parts is not ["v1", var name, var payload] || await KeyAsync(name) is not { } key)
        {
            return null;
        }

        var bytes = Convert.FromBase64String(payload);
        var nonceSize = AesGcm.NonceByteSizes.MaxSize;
        var tagSize = AesGcm.TagByteSizes.MaxSize;
        if (bytes.Length <= nonceSize + tagSize)
        {
            return null;
        }

        var secret = new byte[bytes.Length - nonceSize - tagSize];
        try
        {
            using var aes = new AesGcm(key, tagSize);
            aes.Decrypt(bytes.AsSpan(0, nonceSize), bytes.AsSpan(nonceSize, secret.Length), bytes.AsSpan(bytes.Length - tagSize), secret, Encoding.UTF8.GetBytes(userId));
            return secret;
        }
        catch (AuthenticationTagMismatchException)
        {
            return null;
        }
    }

    private async Task<(string Name, byte[] Key)> CurrentKeyAsync()
    {
        if (ConfiguredKey() is { } configured)
        {
            return (Configured, configured);
        }

        var active = await keys.GetAsync();
        return (active.KeyId, active.DeriveSecret(Purpose));
    }

    private async Task<byte[]?> KeyAsync(string name)
    {
        if (name == Configured)
        {
            return ConfiguredKey();
        }

        var material = (await keys.GetSetAsync()).Published.FirstOrDefault(k => k.KeyId == name);
        try
        {
            return material?.DeriveSecret(Purpose);
        }
        catch (InvalidOperationException)
        {
            return null; // A retired key derives nothing.
        }
    }

    private byte[]? ConfiguredKey() =>
        !string.IsNullOrWhiteSpace(options.Value.EncryptionKey) && MfaOptionsValidator.TryDecode(options.Value.EncryptionKey, out var raw)
            ? HKDF.DeriveKey(HashAlgorithmName.SHA256, raw, 32, info: Encoding.UTF8.GetBytes(Purpose))
            : null;
}
