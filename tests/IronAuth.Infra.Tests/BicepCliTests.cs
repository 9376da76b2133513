using System.Text.Json.Nodes;
using IronAuth.Infra.Tests.Support;

namespace IronAuth.Infra.Tests;

/// <summary>The templates compile and lint cleanly: any diagnostic, warning included, is a failure.</summary>
[Collection(InfraCollection.Name)]
public sealed class BicepCliTests(CompiledInfra infra)
{
    [Fact]
    public void Main_template_builds_without_any_diagnostic()
    {
        Assert.True(infra.Build.ExitCode == 0, infra.Build.StandardError);
        Assert.Equal("", infra.Build.Diagnostics);
        Assert.NotEmpty(infra.Template.Resources);
    }

    [Fact]
    public async Task Parameter_file_builds_without_any_diagnostic()
    {
        var run = await BicepCli.RunAsync("build-params", "main.bicepparam", "--stdout");

        Assert.True(run.ExitCode == 0, run.StandardError);
        Assert.Equal("", run.Diagnostics);
        var parameters = Parameters(run);
        Assert.Equal("", (string?)parameters["jwtIssuer"]?["value"]);
        // Without IRONAUTH_JWT_SIGNING_KEY the secret is left alone rather than overwritten.
        Assert.Equal("", (string?)parameters["signingKeyPem"]?["value"]);
        Assert.Equal("", (string?)parameters["budgetCredentialKey"]?["value"]);
    }

    [Fact]
    public async Task Parameter_file_takes_the_budget_credential_key_from_the_environment()
    {
        const string key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        var run = await BicepCli.RunInAsync(
            BicepCli.InfraDirectory,
            new Dictionary<string, string> { ["IRONAUTH_BUDGET_CREDENTIAL_KEY"] = key },
            "build-params", "main.bicepparam", "--stdout");

        Assert.True(run.ExitCode == 0, run.StandardError);
        Assert.Equal(key, (string?)Parameters(run)["budgetCredentialKey"]?["value"]);
    }

    [Fact]
    public async Task Parameter_file_takes_the_signing_key_from_the_environment()
    {
        const string pem = "-----BEGIN PRIVATE KEY-----\nnot-a-real-key\n-----END PRIVATE KEY-----";
        var run = await BicepCli.RunInAsync(
            BicepCli.InfraDirectory,
            new Dictionary<string, string> { ["IRONAUTH_JWT_SIGNING_KEY"] = pem },
            "build-params", "main.bicepparam", "--stdout");

        Assert.True(run.ExitCode == 0, run.StandardError);
        Assert.Equal(pem, (string?)Parameters(run)["signingKeyPem"]?["value"]);
    }

    [Fact]
    public async Task Linter_reports_nothing_for_any_bicep_file()
    {
        Assert.True(Directory.GetFiles(BicepCli.InfraDirectory, "*.bicep", SearchOption.AllDirectories).Length >= 6);

        var templates = await BicepCli.RunAsync("lint", "--pattern", "**/*.bicep");
        var parameters = await BicepCli.RunAsync("lint", "main.bicepparam");

        Assert.True(templates.ExitCode == 0, templates.StandardError);
        Assert.Equal("", templates.Diagnostics + templates.StandardOutput.Trim());
        Assert.True(parameters.ExitCode == 0, parameters.StandardError);
        Assert.Equal("", parameters.Diagnostics + parameters.StandardOutput.Trim());
    }

    [Fact]
    public async Task Linter_fails_on_a_warning_in_a_module()
    {
        // Proves the lint test above can fail: bicepconfig.json turns a default warning into an error,
        // and the pattern reaches the modules.
        var copy = Directory.CreateTempSubdirectory("ironauth-bicep-");
        try
        {
            foreach (var file in Directory.GetFiles(BicepCli.InfraDirectory, "*", SearchOption.AllDirectories))
            {
                var target = Path.Combine(copy.FullName, Path.GetRelativePath(BicepCli.InfraDirectory, file));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target);
            }

            await File.AppendAllTextAsync(Path.Combine(copy.FullName, "modules", "access.bicep"), "\nvar unusedForTheTest = 1\n");

            var run = await BicepCli.RunInAsync(copy.FullName, null, "lint", "--pattern", "**/*.bicep");

            Assert.NotEqual(0, run.ExitCode);
            Assert.Contains("Error no-unused-vars", run.StandardError, StringComparison.Ordinal);
        }
        finally
        {
            copy.Delete(recursive: true);
        }
    }

    [Fact]
    public void Templates_use_local_modules_only()
    {
        // Registry modules (br:, br/public:, ts:) would need a download at build time.
        foreach (var file in Directory.GetFiles(BicepCli.InfraDirectory, "*.bicep*", SearchOption.AllDirectories))
        {
            var text = File.ReadAllText(file);
            Assert.DoesNotContain("'br:", text, StringComparison.Ordinal);
            Assert.DoesNotContain("'br/", text, StringComparison.Ordinal);
            Assert.DoesNotContain("'ts:", text, StringComparison.Ordinal);
            Assert.DoesNotContain("'ts/", text, StringComparison.Ordinal);
        }
    }

    private static JsonObject Parameters(BicepRun run)
    {
        var output = JsonNode.Parse(run.StandardOutput)!;
        return JsonNode.Parse((string)output["parametersJson"]!)!["parameters"]!.AsObject();
    }
}
