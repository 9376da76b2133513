using System.Text.Json.Nodes;
using IronAuth.Infra.Tests.Support;

namespace IronAuth.Infra.Tests;

/// <summary>The Azure Monitor workbook of issue 19: deployed with the Application Insights component it reads.</summary>
[Collection(InfraCollection.Name)]
public sealed class WorkbookTests(CompiledInfra infra)
{
    private ArmResource Workbook => infra.Template.Single("Microsoft.Insights/workbooks");

    /// <summary>The workbook's JSON: Bicep compiles loadTextContent into a variable of the declaring template.</summary>
    private string SerializedData()
    {
        var value = (string)Workbook.Properties["serializedData"]!;
        var variable = System.Text.RegularExpressions.Regex.Match(value, @"^\[variables\('([^']+)'\)\]$");
        return variable.Success ? (string)Workbook.Template["variables"]![variable.Groups[1].Value]! : value;
    }

    [Fact]
    public void The_workbook_is_a_shared_workbook_on_the_application_insights_component()
    {
        Assert.Equal("shared", (string?)Workbook.Node["kind"]);
        Assert.Equal("workbook", (string?)Workbook.Properties["category"]);
        Assert.Contains("Microsoft.Insights/components", (string?)Workbook.Properties["sourceId"], StringComparison.Ordinal);
        // A workbook's name must be a GUID: made with guid(), so redeploying updates the same one.
        Assert.StartsWith("[guid(", (string?)Workbook.Node["name"], StringComparison.Ordinal);
    }

    [Fact]
    public void The_workbook_shows_sign_ins_verifications_429s_latency_and_hashing()
    {
        var data = JsonNode.Parse(SerializedData())!;
        var queries = data["items"]!.AsArray()
            .Where(i => (int?)i!["type"] == 3)
            .ToDictionary(i => (string)i!["content"]!["title"]!, i => (string)i!["content"]!["query"]!);

        Assert.Contains("\"ironauth.logins\"", queries["Sign-ins by outcome"], StringComparison.Ordinal);
        Assert.Contains("outcome", queries["Sign-ins by outcome"], StringComparison.Ordinal);
        Assert.Contains("\"ironauth.token_verifications\"", queries["Token verifications by verdict"], StringComparison.Ordinal);
        Assert.Contains("resultCode == \"429\"", queries["429 responses by operation"], StringComparison.Ordinal);
        Assert.Contains("percentile(duration, 95)", queries["Request latency percentiles (ms)"], StringComparison.Ordinal);
        Assert.Contains("ironauth.password_hash.queue_time", queries["Password hashing: mean queue wait and hash time (s)"], StringComparison.Ordinal);
        Assert.All(data["items"]!.AsArray().Where(i => (int?)i!["type"] == 3), i =>
        {
            Assert.Equal("TimeRange", (string?)i!["content"]!["timeContextFromParameter"]);
            Assert.Equal("microsoft.insights/components", (string?)i["content"]!["resourceType"]);
        });
    }
}
