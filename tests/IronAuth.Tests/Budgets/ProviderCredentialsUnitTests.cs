using System.Security.Cryptography;
using IronAuth.Core.Budgets;
using IronAuth.Core.Configuration;
using Microsoft.Extensions.Options;

namespace IronAuth.Tests.Budgets;

public sealed class ProviderCredentialsUnitTests
{
    private static ProviderCredentials With(string? key) =>
        new(Options.Create(new IronAuthOptions { Budgets = new BudgetOptions { CredentialKey = key } }));

    private static readonly string Key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    [Fact]
    public void A_sealed_credential_opens_for_its_budget_with_its_key_only()
    {
        var credentials = With(Key);
        var sealedSecret = credentials.Seal("budget-1", "sk-secret");

        Assert.Equal("sk-secret", credentials.Open("budget-1", sealedSecret));
        // Each seal has a fresh nonce: the same secret never seals the same way twice.
        Assert.NotEqual(sealedSecret, credentials.Seal("budget-1", "sk-secret"));
        // Moved onto another budget, or altered by one bit, it does not open.
        Assert.ThrowsAny<CryptographicException>(() => credentials.Open("budget-2", sealedSecret));
        var altered = (byte[])sealedSecret.Clone();
        altered[^1] ^= 1;
        Assert.ThrowsAny<CryptographicException>(() => credentials.Open("budget-1", altered));
        // Another key, or none, opens nothing (the key id says so before any decryption is tried).
        Assert.Null(With(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))).Open("budget-1", sealedSecret));
        Assert.Null(With(null).Open("budget-1", sealedSecret));
        Assert.False(With(null).CanSeal);
    }

    [Theory]
    [InlineData("not base64!")]
    [InlineData("AAAA")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public void Keys_that_are_not_32_bytes_of_base64_are_refused_at_start(string key)
    {
        Assert.False(ProviderCredentials.IsValidKey(key));
        var result = new BudgetOptionsValidator().Validate(null, new IronAuthOptions { Budgets = new BudgetOptions { CredentialKey = key } });
        Assert.True(result.Failed);
        Assert.Contains("IronAuth:Budgets:CredentialKey", result.FailureMessage, StringComparison.Ordinal);
        Assert.DoesNotContain(key, result.FailureMessage, StringComparison.Ordinal);
    }
}
