using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace IronAuth.Infra.Tests.Support;

/// <summary>One resource of the compiled ARM JSON, with the (possibly nested module) template that declares it.</summary>
public sealed record ArmResource(JsonObject Node, JsonObject Template, string? Module)
{
    public string Type => (string)Node["type"]!;

    public string Name => (string)Node["name"]!;

    /// <summary>
    /// The last segment of a child resource's name: 'ftp' from "[format('{0}/{1}', parameters('app'), 'ftp')]".
    /// </summary>
    public string ChildName
    {
        get
        {
            var literal = Regex.Match(Name, @"'([^']*)'\)\]$");
            return literal.Success ? literal.Groups[1].Value : Name[(Name.LastIndexOf('/') + 1)..];
        }
    }

    public JsonObject Properties => Node["properties"]!.AsObject();

    public string Text => Node.ToJsonString();
}

/// <summary>The ARM JSON that `bicep build` makes of main.bicep, searched through its module deployments.</summary>
public sealed class ArmTemplate(JsonObject root)
{
    public JsonObject Root { get; } = root;

    public string Text { get; } = root.ToJsonString();

    public IReadOnlyList<ArmResource> Resources { get; } = Flatten(root, null).ToList();

    public IEnumerable<ArmResource> OfType(string type) =>
        Resources.Where(r => string.Equals(r.Type, type, StringComparison.OrdinalIgnoreCase));

    public ArmResource Single(string type)
    {
        var matches = OfType(type).ToList();
        Assert.True(matches.Count == 1, $"Expected exactly one {type}, found {matches.Count}.");
        return matches[0];
    }

    /// <summary>The nested template of the module deployed under <paramref name="name"/>.</summary>
    public JsonObject ModuleTemplate(string name) => Module(name).Properties["template"]!.AsObject();

    public ArmResource Module(string name) =>
        Resources.Single(r => r.Type == "Microsoft.Resources/deployments" && r.Name == name);

    /// <summary>Every template in the file: main and each module's.</summary>
    public IEnumerable<(string Name, JsonObject Template)> Templates() =>
        new[] { ("main", Root) }.Concat(
            Resources.Where(r => r.Type == "Microsoft.Resources/deployments")
                .Select(r => (r.Name, r.Properties["template"]!.AsObject())));

    private static IEnumerable<ArmResource> Flatten(JsonObject template, string? module)
    {
        // Bicep emits an array of resources, or an object keyed by symbolic name (languageVersion 2.0).
        var resources = template["resources"] switch
        {
            JsonArray array => array.Select(n => n!.AsObject()),
            JsonObject map => map.Select(p => p.Value!.AsObject()),
            _ => [],
        };
        foreach (var resource in resources)
        {
            var item = new ArmResource(resource, template, module);
            yield return item;
            if (item.Type == "Microsoft.Resources/deployments" && item.Properties["template"] is JsonObject nested)
            {
                foreach (var inner in Flatten(nested, item.Name))
                {
                    yield return inner;
                }
            }
        }
    }
}
