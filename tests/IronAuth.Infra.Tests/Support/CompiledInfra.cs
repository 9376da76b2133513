using System.Text.Json.Nodes;

namespace IronAuth.Infra.Tests.Support;

/// <summary>Builds infra/bicep/main.bicep once for every test in the collection.</summary>
public sealed class CompiledInfra : IAsyncLifetime
{
    private ArmTemplate? template;

    public BicepRun Build { get; private set; } = new(-1, "", "");

    /// <summary>The compiled template; a failed build fails the test here with the CLI's own words.</summary>
    public ArmTemplate Template => template ?? throw new InvalidOperationException(
        $"bicep build main.bicep failed with exit code {Build.ExitCode}:{Environment.NewLine}{Build.StandardError}");

    public async Task InitializeAsync()
    {
        Build = await BicepCli.RunAsync("build", "main.bicep", "--stdout");
        if (Build.ExitCode == 0)
        {
            template = new ArmTemplate(JsonNode.Parse(Build.StandardOutput)!.AsObject());
        }
    }

    public Task DisposeAsync() => Task.CompletedTask;
}

[CollectionDefinition(Name)]
public sealed class InfraCollection : ICollectionFixture<CompiledInfra>
{
    public const string Name = "infra/bicep";
}
