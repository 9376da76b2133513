using IronAuth.Infra.Tests.Support;

namespace IronAuth.Infra.Tests;

[Collection(InfraCollection.Name)]
public sealed class FunctionAppTests(CompiledInfra infra)
{
    private ArmResource Site => infra.Template.Single("Microsoft.Web/sites");

    [Fact]
    public void Plan_is_flex_consumption_on_linux()
    {
        var plan = infra.Template.Single("Microsoft.Web/serverfarms");

        Assert.Equal("FC1", (string?)plan.Node["sku"]?["name"]);
        Assert.Equal("FlexConsumption", (string?)plan.Node["sku"]?["tier"]);
        Assert.True((bool?)plan.Properties["reserved"]);
        Assert.Contains("Microsoft.Web/serverfarms", (string?)Site.Properties["serverFarmId"], StringComparison.Ordinal);
    }

    [Fact]
    public void Function_app_runs_the_dotnet_isolated_10_worker_on_linux()
    {
        var runtime = Site.Properties["functionAppConfig"]?["runtime"];

        Assert.Equal("functionapp,linux", (string?)Site.Node["kind"]);
        Assert.Equal("dotnet-isolated", (string?)runtime?["name"]);
        Assert.Equal("10.0", (string?)runtime?["version"]);
    }

    [Fact]
    public void Function_app_deploys_from_a_blob_container_with_its_own_identity()
    {
        var storage = Site.Properties["functionAppConfig"]?["deployment"]?["storage"];

        Assert.Equal("blobContainer", (string?)storage?["type"]);
        Assert.Equal("SystemAssignedIdentity", (string?)storage?["authentication"]?["type"]);
        Assert.False(string.IsNullOrEmpty((string?)storage?["value"]));
        Assert.NotNull(Site.Properties["functionAppConfig"]?["scaleAndConcurrency"]?["maximumInstanceCount"]);
        Assert.NotNull(Site.Properties["functionAppConfig"]?["scaleAndConcurrency"]?["instanceMemoryMB"]);
    }

    [Fact]
    public void Function_app_accepts_https_only()
    {
        Assert.True((bool?)Site.Properties["httpsOnly"]);
    }

    [Fact]
    public void Function_app_requires_tls_1_2_on_the_site_and_the_deployment_endpoint()
    {
        Assert.Equal("1.2", (string?)Site.Properties["siteConfig"]?["minTlsVersion"]);
        Assert.Equal("1.2", (string?)Site.Properties["siteConfig"]?["scmMinTlsVersion"]);
    }

    [Fact]
    public void Function_app_disables_ftp()
    {
        Assert.Equal("Disabled", (string?)Site.Properties["siteConfig"]?["ftpsState"]);
    }

    [Fact]
    public void Function_app_disables_basic_publishing_credentials_for_ftp_and_scm()
    {
        var policies = infra.Template.OfType("Microsoft.Web/sites/basicPublishingCredentialsPolicies").ToList();

        Assert.Equal(["ftp", "scm"], policies.Select(p => p.ChildName).Order());
        Assert.All(policies, p => Assert.False((bool?)p.Properties["allow"]));
    }

    [Fact]
    public void Function_app_has_a_system_assigned_identity()
    {
        Assert.Equal("SystemAssigned", (string?)Site.Node["identity"]?["type"]);
    }
}
