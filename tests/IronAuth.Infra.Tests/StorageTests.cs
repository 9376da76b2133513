using IronAuth.Infra.Tests.Support;

namespace IronAuth.Infra.Tests;

[Collection(InfraCollection.Name)]
public sealed class StorageTests(CompiledInfra infra)
{
    private ArmResource Account => infra.Template.Single("Microsoft.Storage/storageAccounts");

    [Fact]
    public void Storage_account_is_general_purpose_v2()
    {
        Assert.Equal("StorageV2", (string?)Account.Node["kind"]);
    }

    [Fact]
    public void Storage_account_disables_shared_key_access()
    {
        Assert.False((bool?)Account.Properties["allowSharedKeyAccess"]);
    }

    [Fact]
    public void Storage_account_disables_public_blob_access()
    {
        Assert.False((bool?)Account.Properties["allowBlobPublicAccess"]);
        Assert.All(
            infra.Template.OfType("Microsoft.Storage/storageAccounts/blobServices/containers"),
            c => Assert.Equal("None", (string?)c.Properties["publicAccess"]));
    }

    [Fact]
    public void Storage_account_requires_https_and_tls_1_2()
    {
        Assert.True((bool?)Account.Properties["supportsHttpsTrafficOnly"]);
        Assert.Equal("TLS1_2", (string?)Account.Properties["minimumTlsVersion"]);
    }

    [Fact]
    public void No_storage_account_key_is_read_anywhere()
    {
        // With shared keys off a key would not work anyway; this catches a connection string sneaking back.
        Assert.DoesNotContain("listKeys", infra.Template.Text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("AccountKey=", infra.Template.Text, StringComparison.OrdinalIgnoreCase);
    }
}
