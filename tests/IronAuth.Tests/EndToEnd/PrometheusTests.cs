using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using IronAuth.Tests.Support;

namespace IronAuth.Tests.EndToEnd;

/// <summary>
/// Debian's <c>prometheus</c> (the apt package; .ci/run installs it when missing) scrapes a real server for a few
/// seconds, and its HTTP API answers with IronAuth's series: what a self-hoster's Prometheus will see.
/// </summary>
public sealed class PrometheusTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Prometheus_scrapes_the_server_and_its_api_answers_with_ironauths_series()
    {
        var binary = new[] { "/usr/bin/prometheus", "/usr/local/bin/prometheus" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("prometheus is not installed: apt-get install prometheus (.ci/run does).");
        await using var server = await TestServer.StartAsync();
        var admin = server.NewClient((await server.LoginAdminAsync()).Access);
        var created = await (await admin.PostAsJsonAsync("api/tokens", new { name = "scraped", limits = new { requests_per_second = 0.001, burst = 3 } })).ReadJsonAsync();
        var token = server.NewClient(created["token"]!.GetValue<string>());
        for (var i = 0; i < 5; i++)
        {
            await token.GetAsync("api/auth/me");
        }

        using var directory = new TempDirectory();
        var port = FreePort();
        await File.WriteAllTextAsync(Path.Combine(directory.Path, "prometheus.yml"), $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: ironauth
                metrics_path: /metrics
                static_configs:
                  - targets: ["{server.BaseAddress.Authority}"]
            """);
        var info = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
        {
            $"--config.file={Path.Combine(directory.Path, "prometheus.yml")}",
            $"--storage.tsdb.path={Path.Combine(directory.Path, "data")}",
            $"--web.listen-address=127.0.0.1:{port}",
        })
        {
            info.ArgumentList.Add(argument);
        }

        using var prometheus = Process.Start(info)!;
        prometheus.OutputDataReceived += (_, _) => { };
        prometheus.ErrorDataReceived += (_, _) => { };
        prometheus.BeginOutputReadLine();
        prometheus.BeginErrorReadLine();
        try
        {
            using var api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
            var valid = await QueryUntilAsync(api, "sum(ironauth_token_verifications_total{job=\"ironauth\",verdict=\"valid\"})", 3);
            var limited = await QueryUntilAsync(api, "sum(ironauth_token_verifications_total{job=\"ironauth\",verdict=\"rate_limited\"})", 2);
            var logins = await QueryUntilAsync(api, "sum(ironauth_logins_total{job=\"ironauth\",outcome=\"succeeded\"})", 1);

            Assert.Equal((3, 2, 1), (valid, limited, logins));
            var up = await QueryUntilAsync(api, "up{job=\"ironauth\"}", 1);
            Assert.Equal(1, up);
            // A histogram the dashboards use is there as buckets, and PromQL can take a quantile of it.
            var buckets = await (await api.GetAsync("api/v1/series?match[]=http_server_request_duration_seconds_bucket{job=\"ironauth\"}")).ReadJsonAsync();
            Assert.NotEmpty(buckets["data"]!.AsArray());
        }
        finally
        {
            prometheus.Kill(entireProcessTree: true);
            await prometheus.WaitForExitAsync();
        }
    }

    /// <summary>
    /// Asks Prometheus' query API until the value reaches <paramref name="expected"/> (scrapes land every second) or the
    /// deadline passes; returns the last value seen. Polling an outside process that works on its own clock, not waiting
    /// for this test's own state.
    /// </summary>
    private static async Task<double> QueryUntilAsync(HttpClient api, string query, double expected)
    {
        var deadline = Stopwatch.StartNew();
        var last = double.NaN;
        while (deadline.Elapsed < Deadline)
        {
            try
            {
                // Until it is ready, Prometheus answers 503 with a plain-text body ("Service Unavailable").
                var response = await api.GetAsync("api/v1/query?query=" + Uri.EscapeDataString(query));
                if (response.IsSuccessStatusCode && (await response.ReadJsonAsync())["data"]?["result"] is JsonArray { Count: > 0 } result)
                {
                    last = double.Parse(result[0]!["value"]![1]!.GetValue<string>(), CultureInfo.InvariantCulture);
                    if (last >= expected)
                    {
                        return last;
                    }
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(250);
        }

        return last;
    }

    private static int FreePort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }
}
