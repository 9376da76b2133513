using IronAuth.Infra.Tests.Support;

namespace IronAuth.Infra.Tests;

[Collection(InfraCollection.Name)]
public sealed class KeyVaultTests(CompiledInfra infra)
{
    private ArmResource Vault => infra.Template.Single("Microsoft.KeyVault/vaults");

    [Fact]
    public void Key_vault_authorizes_with_rbac_not_access_policies()
    {
        Assert.True((bool?)Vault.Properties["enableRbacAuthorization"]);
        Assert.Null(Vault.Properties["accessPolicies"]);
    }

    [Fact]
    public void Key_vault_has_soft_delete_and_purge_protection()
    {
        Assert.True((bool?)Vault.Properties["enableSoftDelete"]);
        Assert.True((bool?)Vault.Properties["enablePurgeProtection"]);
    }

    [Fact]
    public void Signing_key_parameter_is_secure_and_optional()
    {
        var parameter = infra.Template.Root["parameters"]?["signingKeyPem"];

        Assert.Equal("securestring", (string?)parameter?["type"]);
        Assert.Equal("", (string?)parameter?["defaultValue"]);
    }

    [Fact]
    public void Signing_key_secret_is_written_only_when_a_value_is_given()
    {
        // (The vault also holds the SMTP password and the TOTP key, each under its own condition: see AccountSettingsTests.)
        var secret = infra.Template.OfType("Microsoft.KeyVault/vaults/secrets")
            .Single(s => s.Node["condition"]?.ToString().Contains("signingKeyPem", StringComparison.Ordinal) == true);

        Assert.Equal("[not(empty(parameters('signingKeyPem')))]", (string?)secret.Node["condition"]);
        Assert.Equal("[parameters('signingKeyPem')]", (string?)secret.Properties["value"]);
    }
}
