using System.Text.Json.Nodes;

namespace IronAuth.Tests.Support.FunctionsHost;

/// <summary>
/// One function as the worker described it in its <c>FunctionMetadataResponse</c>: its id, its trigger (from the raw
/// bindings, as the host reads them) and the metadata to send back in its <c>FunctionLoadRequest</c>.
/// </summary>
public sealed class HostedFunction
{
    private readonly string[] segments;

    private HostedFunction(string id, string name, JsonObject trigger, JsonObject metadata, string routePrefix)
    {
        Id = id;
        Name = name;
        Trigger = trigger;
        Metadata = metadata;
        TriggerType = trigger["type"]!.GetValue<string>();
        TriggerName = trigger["name"]!.GetValue<string>();
        if (IsHttp)
        {
            // An HTTP function without a route answers at its name, under the host.json prefix.
            var route = trigger["route"]?.GetValue<string>() is { Length: > 0 } r ? r : name;
            Route = string.IsNullOrEmpty(routePrefix) ? route : routePrefix + "/" + route;
            Methods = trigger["methods"] is JsonArray methods
                ? [.. methods.Select(m => m!.GetValue<string>().ToUpperInvariant())]
                : [];
            segments = Route.Split('/', StringSplitOptions.RemoveEmptyEntries);
        }
        else
        {
            Route = "";
            Methods = [];
            segments = [];
        }
    }

    public string Id { get; }

    public string Name { get; }

    /// <summary>The trigger binding as the worker declared it (<c>type</c>, <c>name</c>, <c>route</c>, <c>methods</c>, <c>schedule</c>…).</summary>
    public JsonObject Trigger { get; }

    public string TriggerType { get; }

    public string TriggerName { get; }

    public bool IsHttp => TriggerType.Equals("httpTrigger", StringComparison.OrdinalIgnoreCase);

    /// <summary>The full route template with the prefix (<c>api/users/{id}</c>); empty for other triggers.</summary>
    public string Route { get; }

    /// <summary>Upper-case methods; none means every method.</summary>
    public IReadOnlyList<string> Methods { get; }

    internal JsonObject Metadata { get; }

    /// <summary>How specific the route is, for choosing between templates that both match: literal segments win.</summary>
    internal int Precedence => segments.Count(s => !s.StartsWith('{'));

    internal static HostedFunction From(JsonObject metadata, string routePrefix)
    {
        var name = metadata["name"]!.GetValue<string>();
        var bindings = metadata["rawBindings"]!.AsArray().Select(b => JsonNode.Parse(b!.GetValue<string>())!.AsObject()).ToList();
        var trigger = bindings.SingleOrDefault(b => b["type"]!.GetValue<string>().EndsWith("Trigger", StringComparison.OrdinalIgnoreCase))
            ?? throw new InvalidOperationException($"Function {name} has no trigger binding.");
        return new HostedFunction(metadata["functionId"]!.GetValue<string>(), name, trigger, metadata, routePrefix);
    }

    /// <summary>The route values when <paramref name="path"/> (without leading slash) matches this function's template.</summary>
    internal Dictionary<string, string>? Match(string path)
    {
        var parts = path.Split('/');
        if (!IsHttp || parts.Length != segments.Length)
        {
            return null;
        }

        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < parts.Length; i++)
        {
            var segment = segments[i];
            if (segment.StartsWith('{') && segment.EndsWith('}'))
            {
                // {name}, {name:constraint} or {name?}: the stand-in checks no constraint, only that a value is there.
                var parameter = segment[1..^1].Split(':')[0].TrimEnd('?').TrimStart('*');
                if (parts[i].Length == 0)
                {
                    return null;
                }

                values[parameter] = Uri.UnescapeDataString(parts[i]);
            }
            else if (!segment.Equals(parts[i], StringComparison.OrdinalIgnoreCase))
            {
                return null;
            }
        }

        return values;
    }

    internal bool Accepts(string method) => Methods.Count == 0 || Methods.Contains(method.ToUpperInvariant());
}
