using Microsoft.Extensions.Options;

namespace IronAuth.Server.Telemetry;

/// <summary>The Prometheus scrape endpoint of the self-hosted server (section <c>IronAuth:Metrics</c>).</summary>
public sealed class MetricsOptions
{
    public const string SectionName = "IronAuth:Metrics";

    /// <summary>Whether <see cref="Path"/> serves Prometheus text. On by default; keep it off the public internet.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Where the scrape endpoint is: an absolute path outside the API's <c>/api</c> prefix.</summary>
    public string Path { get; set; } = "/metrics";
}

/// <summary>Refuses a scrape path that is not a plain absolute path, or one the API's routes would shadow or share.</summary>
public sealed class MetricsOptionsValidator : IValidateOptions<MetricsOptions>
{
    public ValidateOptionsResult Validate(string? name, MetricsOptions options)
    {
        if (!options.Enabled)
        {
            return ValidateOptionsResult.Success;
        }

        var path = options.Path;
        if (string.IsNullOrWhiteSpace(path) || !path.StartsWith('/') || path.Length == 1
            || path.IndexOfAny(['?', '#', '{', '}', '*', ' ', '\\']) >= 0 || path.EndsWith('/') || path.Contains("//", StringComparison.Ordinal))
        {
            return ValidateOptionsResult.Fail(
                $"IronAuth:Metrics:Path must be an absolute path such as '/metrics', without a query, route parameters or a trailing slash (was '{path}').");
        }

        if (path.Equals("/api", StringComparison.OrdinalIgnoreCase) || path.StartsWith("/api/", StringComparison.OrdinalIgnoreCase)
            || path.StartsWith("/.well-known/", StringComparison.OrdinalIgnoreCase))
        {
            return ValidateOptionsResult.Fail(
                $"IronAuth:Metrics:Path must not be under /api or /.well-known, which the API serves (was '{path}').");
        }

        return ValidateOptionsResult.Success;
    }
}
