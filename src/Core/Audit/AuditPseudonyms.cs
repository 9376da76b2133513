using System.Security.Cryptography;
using System.Text;
using IronAuth.Core.Signing;
using IronAuth.Core.Users;

namespace IronAuth.Core.Audit;

/// <summary>
/// Keyed pseudonyms for what the audit log must not hold in clear. A failed sign-in for an unknown name records
/// only HMAC-SHA256(key, name) instead of the name, because that "name" is often a password typed into the
/// wrong field, and the log is readable by every viewer. The key is derived from the installation's JWT signing
/// key (<see cref="SigningMaterial.DeriveSecret"/>), so the same name gives the same pseudonym on every instance
/// of one installation (repeated attempts can be correlated) and none elsewhere, and without the key nobody can
/// test guesses against the log offline. A new signing key (a rotation) starts new pseudonyms.
/// </summary>
public sealed class AuditPseudonyms(SigningKeys keys)
{
    private const string Purpose = "audit-username-v1";

    /// <summary>128 bits of the HMAC of the name (normalized when it is a valid username), as 32 hex digits.</summary>
    public async Task<string> OfUsernameAsync(string attempted)
    {
        // Derived from the active key at each use (microseconds, on failed sign-ins only): after a rotation every
        // instance moves to the new key's pseudonyms as it picks up the new key, rather than at its next restart.
        var key = (await keys.GetAsync()).DeriveSecret(Purpose);
        var name = UsernameRules.CheckUsername(attempted) is null ? UsernameRules.Normalize(attempted) : attempted;
        var mac = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(name));
        return Convert.ToHexStringLower(mac.AsSpan(0, 16));
    }
}
