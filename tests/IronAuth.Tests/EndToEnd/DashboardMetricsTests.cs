using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using IronAuth.Core.Maintenance;
using IronAuth.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace IronAuth.Tests.EndToEnd;

/// <summary>
/// The dashboards (issue 19) query only what the server exports: the Grafana dashboard's PromQL and the Azure Monitor
/// workbook's KQL are checked against a real scrape of <c>/metrics</c> after traffic that touches every panel.
/// </summary>
public sealed partial class DashboardMetricsTests
{
    // Labels Prometheus adds at scrape time, and the histogram bucket label.
    private static readonly HashSet<string> ScrapeLabels = ["job", "instance", "le"];

    private static readonly Lazy<string> Root = new(() =>
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "IronAuth.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("No IronAuth.sln above the test binaries.");
    });

    private static async Task<Scrape> ScrapeAfterTrafficAsync()
    {
        await using var server = await TestServer.StartAsync();
        var session = await server.LoginAdminAsync();
        await server.Client.PostAsJsonAsync("api/auth/login", new { username = server.AdminUsername, password = "not-the-password" });
        var admin = server.NewClient(session.Access);
        var created = await (await admin.PostAsJsonAsync("api/tokens", new { name = "dash", limits = new { requests_per_second = 0.001, burst = 1 } })).ReadJsonAsync();
        var token = server.NewClient(created["token"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await token.GetAsync("api/auth/me")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await token.GetAsync("api/auth/me")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.Client.PostAsJsonAsync("api/auth/refresh", new { refresh_token = session.Refresh })).StatusCode);
        var other = await server.LoginAdminAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await server.NewClient(other.Access).PostAsync("api/auth/logout", null)).StatusCode);
        Assert.True((await server.Services.GetRequiredService<MaintenanceJob>().RunAsync(default)).Sessions >= 1);
        return Scrape.Parse(await server.Client.GetStringAsync("metrics"));
    }

    [Fact]
    public async Task Every_series_and_label_the_grafana_dashboard_queries_is_one_the_server_exports()
    {
        var dashboard = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(Root.Value, "docs", "dashboards", "grafana-ironauth.json")))!;
        var expressions = dashboard["panels"]!.AsArray().SelectMany(p => p!["targets"]!.AsArray()).Select(t => (string)t!["expr"]!).ToList();
        Assert.True(expressions.Count >= 8);
        var scrape = await ScrapeAfterTrafficAsync();

        foreach (var expression in expressions)
        {
            var selectors = Selector().Matches(expression).ToList();
            Assert.NotEmpty(selectors);
            var names = selectors.Select(s => s.Groups["name"].Value).ToList();
            foreach (var selector in selectors)
            {
                var name = selector.Groups["name"].Value;
                Assert.True(scrape.Names.Contains(name), $"{name} (in {expression}) is not exported; exported: {string.Join(", ", scrape.Names.Order())}");
                foreach (Match matcher in Matcher().Matches(selector.Groups["matchers"].Value))
                {
                    var (label, op, value) = (matcher.Groups["label"].Value, matcher.Groups["op"].Value, matcher.Groups["value"].Value);
                    if (ScrapeLabels.Contains(label))
                    {
                        continue;
                    }

                    Assert.Contains(label, scrape.Labels(name));
                    if (op == "=")
                    {
                        Assert.True(scrape.Value(name, (label, value)) > 0, $"No {name} sample has {label}=\"{value}\".");
                    }
                }
            }

            foreach (Match by in By().Matches(expression))
            {
                foreach (var label in by.Groups["labels"].Value.Split(',', StringSplitOptions.TrimEntries).Where(l => !ScrapeLabels.Contains(l)))
                {
                    Assert.True(names.Any(n => scrape.Labels(n).Contains(label)), $"No series of {string.Join(", ", names)} carries {label} (in {expression}).");
                }
            }
        }
    }

    [Fact]
    public async Task Every_metric_and_dimension_the_workbook_queries_is_one_the_server_exports()
    {
        var workbook = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(Root.Value, "infra", "bicep", "modules", "workbook.json")))!;
        var queries = workbook["items"]!.AsArray().Where(i => (int?)i!["type"] == 3).Select(i => (string)i!["content"]!["query"]!).ToList();
        var scrape = await ScrapeAfterTrafficAsync();

        var checkedMetrics = 0;
        foreach (var query in queries.Where(q => q.StartsWith("customMetrics", StringComparison.Ordinal)))
        {
            // The workbook names instruments as OpenTelemetry does (ironauth.logins); Prometheus shows the same
            // instrument with underscores and a unit or _total suffix (ironauth_logins_total).
            var instruments = QuotedMetric().Matches(query).Select(m => m.Groups["name"].Value).ToList();
            Assert.NotEmpty(instruments);
            foreach (var instrument in instruments)
            {
                var family = instrument.Replace('.', '_');
                var exported = scrape.Names.Where(n => n == family || n.StartsWith(family + "_", StringComparison.Ordinal)).ToList();
                Assert.True(exported.Count > 0, $"{instrument} (in the workbook) is not exported.");
                foreach (Match dimension in Dimension().Matches(query))
                {
                    Assert.Contains(dimension.Groups["label"].Value, exported.SelectMany(scrape.Labels));
                }

                checkedMetrics++;
            }
        }

        Assert.True(checkedMetrics >= 4);
    }

    // A metric selector: an exported name, then optional {matchers}.
    [GeneratedRegex(@"(?<name>\b(?:ironauth|http_server)_[a-z0-9_]+)(?:\{(?<matchers>[^}]*)\})?")]
    private static partial Regex Selector();

    [GeneratedRegex("""(?<label>[a-z_]+)\s*(?<op>=~|!~|!=|=)\s*"(?<value>[^"]*)"?""")]
    private static partial Regex Matcher();

    [GeneratedRegex(@"\bby \((?<labels>[^)]*)\)")]
    private static partial Regex By();

    [GeneratedRegex("\"(?<name>ironauth\\.[a-z0-9_.]+)\"")]
    private static partial Regex QuotedMetric();

    [GeneratedRegex("customDimensions\\[\"(?<label>[a-z_]+)\"\\]")]
    private static partial Regex Dimension();
}
