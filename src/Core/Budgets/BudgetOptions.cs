namespace IronAuth.Core.Configuration;

/// <summary><c>IronAuth:Budgets</c>: agent budgets, IC tokens and leases (docs/budgets.md).</summary>
public sealed class BudgetOptions
{
    /// <summary>How long a lease lasts unless refreshed or closed; an expired lease's unspent part returns at the next maintenance run.</summary>
    public TimeSpan LeaseLifetime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>An IC token's lifetime when the mint asks for none; never past its budget's expiry.</summary>
    public TimeSpan IcTokenLifetime { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// The longest lifetime an IC token may have (a mint asking for more is refused). A signing key rotated out stays
    /// published and accepted this long, so every IC token it signed verifies until its own expiry.
    /// </summary>
    public TimeSpan MaxIcTokenLifetime { get; set; } = TimeSpan.FromDays(7);

    /// <summary>A budget's lifetime when its creation asks for none.</summary>
    public TimeSpan DefaultLifetime { get; set; } = TimeSpan.FromDays(30);

    /// <summary>The longest lifetime a budget may ask for.</summary>
    public TimeSpan MaxLifetime { get; set; } = TimeSpan.FromDays(366);

    /// <summary>How long an ended (revoked or expired) budget is kept, with its leases and reports, before maintenance purges it.</summary>
    public int RetentionDays { get; set; } = 30;

    /// <summary>The <c>aud</c> of IC tokens; distinct from access tokens' so no service confuses one for the other (RFC 8725 §3.9).</summary>
    public string IcTokenAudience { get; set; } = "ironauth-budgets";

    /// <summary>
    /// The AES-256-GCM key that seals provider credentials at rest: 32 random bytes, base64. Kept outside the store (an
    /// environment variable, or a Key Vault reference in Azure); without it, credentials cannot be attached.
    /// </summary>
    public string? CredentialKey { get; set; }
}
