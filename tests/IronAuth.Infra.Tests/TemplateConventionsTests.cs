using System.Text.Json.Nodes;
using IronAuth.Infra.Tests.Support;

namespace IronAuth.Infra.Tests;

[Collection(InfraCollection.Name)]
public sealed class TemplateConventionsTests(CompiledInfra infra)
{
    [Fact]
    public void Every_parameter_of_every_template_has_a_description()
    {
        foreach (var (name, template) in infra.Template.Templates())
        {
            foreach (var (parameter, definition) in template["parameters"]?.AsObject() ?? [])
            {
                var description = (string?)definition?["metadata"]?["description"];
                Assert.False(string.IsNullOrWhiteSpace(description), $"Parameter {parameter} of {name} has no @description.");
            }
        }
    }

    [Fact]
    public void Resource_names_carry_a_token_unique_to_the_resource_group()
    {
        var variables = infra.Template.Root["variables"]!.AsObject();

        Assert.Equal("[uniqueString(resourceGroup().id)]", (string?)variables["token"]);
        foreach (var name in new[] { "functionAppName", "storageAccountName", "keyVaultName", "applicationInsightsName" })
        {
            Assert.Contains("variables('token')", (string?)variables[name], StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Outputs_give_the_app_url_and_the_jwks_url()
    {
        var outputs = infra.Template.Root["outputs"]!.AsObject();
        const string host = "reference(resourceId('Microsoft.Resources/deployments', 'functionapp'), '2025-04-01').outputs.defaultHostName.value";

        Assert.Equal($"[format('https://{{0}}', {host})]", Value(outputs, "appUrl"));
        Assert.Equal($"[format('https://{{0}}/api/auth/jwks.json', {host})]", Value(outputs, "jwksUrl"));
    }

    [Fact]
    public void Outputs_carry_no_secret()
    {
        foreach (var (name, template) in infra.Template.Templates())
        {
            foreach (var (output, definition) in template["outputs"]?.AsObject() ?? [])
            {
                var text = definition!.ToJsonString();
                var where = $"Output {output} of {name}";
                Assert.False(text.Contains("signingKeyPem", StringComparison.Ordinal), $"{where} reveals the signing key.");
                Assert.False(text.Contains("ConnectionString", StringComparison.Ordinal), $"{where} reveals a connection string.");
                Assert.NotEqual("securestring", (string?)definition["type"]);
            }
        }
    }

    private static string? Value(JsonObject outputs, string name) => (string?)outputs[name]?["value"];
}
