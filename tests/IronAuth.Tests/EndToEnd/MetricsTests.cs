using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using IronAuth.Core.Maintenance;
using IronAuth.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace IronAuth.Tests.EndToEnd;

/// <summary>
/// The Prometheus endpoint of the self-hosted server, scraped after known traffic. Each server's meters come from
/// its own service provider's IMeterFactory, so counts are exact even with other servers running in parallel.
/// </summary>
public sealed class MetricsTests
{
    [Fact]
    public async Task Scrape_counts_logins_by_outcome_and_verifications_by_verdict_exactly()
    {
        await using var server = await TestServer.StartAsync();
        var tokens = await server.LoginAdminAsync();
        await server.LoginAsync(server.AdminUsername, TestServer.AdminPassword);
        for (var i = 0; i < 3; i++)
        {
            await (await server.Client.PostAsJsonAsync("api/auth/login", new { username = server.AdminUsername, password = "wrong-password" }))
                .AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_credentials");
        }

        var admin = server.NewClient(tokens.Access);
        var (valid, validId) = await CreateTokenAsync(admin, new { name = "valid" });
        var (limited, _) = await CreateTokenAsync(admin, new { name = "limited", limits = new { requests_per_second = 0.001, burst = 1 } });
        var (revoked, revokedId) = await CreateTokenAsync(admin, new { name = "revoked" });
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"api/tokens/{revokedId}")).StatusCode);

        Assert.Equal("valid", await VerifyAsync(admin, valid));
        Assert.Equal("valid", await VerifyAsync(admin, valid));
        Assert.Equal("valid", await VerifyAsync(admin, limited));
        Assert.Equal("rate_limited", await VerifyAsync(admin, limited));
        Assert.Equal("revoked", await VerifyAsync(admin, revoked));
        Assert.Equal("malformed", await VerifyAsync(admin, "iron_not-a-token"));

        var refreshed = await server.Client.PostAsJsonAsync("api/auth/refresh", new { refresh_token = tokens.Refresh });
        Assert.Equal(HttpStatusCode.OK, refreshed.StatusCode);
        await (await server.Client.PostAsJsonAsync("api/auth/refresh", new { refresh_token = tokens.Refresh }))
            .AssertProblemAsync(HttpStatusCode.Unauthorized, "token_reuse_detected");

        var response = await server.Client.GetAsync("metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var scrape = Scrape.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(2, scrape.Value("ironauth_logins_total", ("outcome", "succeeded")));
        Assert.Equal(3, scrape.Value("ironauth_logins_total", ("outcome", "invalid_credentials")));
        Assert.Equal(5, scrape.Sum("ironauth_logins_total"));
        Assert.Equal(3, scrape.Value("ironauth_token_verifications_total", ("verdict", "valid")));
        Assert.Equal(1, scrape.Value("ironauth_token_verifications_total", ("verdict", "rate_limited")));
        Assert.Equal(1, scrape.Value("ironauth_token_verifications_total", ("verdict", "revoked")));
        Assert.Equal(1, scrape.Value("ironauth_token_verifications_total", ("verdict", "malformed")));
        Assert.Equal(6, scrape.Sum("ironauth_token_verifications_total"));
        Assert.Equal(1, scrape.Value("ironauth_refreshes_total", ("outcome", "rotated")));
        Assert.Equal(1, scrape.Value("ironauth_refreshes_total", ("outcome", "reused")));
        Assert.Equal(2, scrape.Sum("ironauth_refreshes_total"));
        // Every login that reached a hashing slot was timed there; the bootstrap admin's hash too.
        Assert.True(scrape.Sum("ironauth_password_hash_duration_seconds_count") >= 5);
        Assert.True(scrape.Sum("ironauth_password_hash_queue_time_seconds_count") >= 5);
        Assert.True(scrape.Value("ironauth_credential_cache_lookups_total", ("kind", "token"), ("result", "miss")) >= 1);
        Assert.True(scrape.Value("ironauth_credential_cache_lookups_total", ("kind", "token"), ("result", "hit")) >= 1);
        Assert.True(scrape.Value("http_server_request_duration_seconds_count", ("http_route", "/api/auth/login")) >= 5);
        // ASP.NET Core's per-request and per-connection instruments that nothing of ours reads are not listened to
        // (docs/metrics.md, "What measuring costs").
        foreach (var unread in new[] { "http_server_active_requests", "aspnetcore_routing_", "kestrel_", "aspnetcore_memory_pool_", "aspnetcore_authorization_" })
        {
            Assert.DoesNotContain(unread, scrape.Text, StringComparison.Ordinal);
        }

        // Labels are closed sets of words: no name, id or secret reaches a scrape, and no address an IronAuth series.
        foreach (var secret in new[] { server.AdminUsername, tokens.UserId, validId, revokedId, valid[..13] })
        {
            Assert.DoesNotContain(secret, scrape.Text, StringComparison.OrdinalIgnoreCase);
        }

        var ours = scrape.Text.Split('\n').Where(line => line.StartsWith("ironauth_", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(ours);
        Assert.All(ours, line => Assert.DoesNotContain("127.0.0.1", line, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Logins_refused_for_a_locked_or_suspended_account_are_counted_by_what_the_client_was_told()
    {
        await using var server = await TestServer.StartAsync();
        var admin = server.NewClient((await server.LoginAdminAsync()).Access);
        var (username, password, user) = await server.CreateUserAsync("user");
        var told = new Dictionary<string, int>(StringComparer.Ordinal);
        async Task AttemptAsync(string attempt)
        {
            var response = await server.Client.PostAsJsonAsync("api/auth/login", new { username, password = attempt });
            var code = response.IsSuccessStatusCode ? "succeeded" : (await response.ReadJsonAsync())["code"]!.GetValue<string>();
            told[code] = told.GetValueOrDefault(code) + 1;
        }

        for (var i = 0; i < 6; i++)
        {
            await AttemptAsync("wrong-password");
        }

        await AttemptAsync(password);
        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsJsonAsync($"api/users/{user.UserId}/suspend", new { reason = "metrics" })).StatusCode);
        server.Time.Advance(TimeSpan.FromHours(2));
        await AttemptAsync(password);

        var scrape = Scrape.Parse(await server.Client.GetStringAsync("metrics"));

        Assert.True(told.GetValueOrDefault("account_locked") >= 2, string.Join(", ", told));
        Assert.Equal(1, told.GetValueOrDefault("account_suspended"));
        Assert.Equal(told.GetValueOrDefault("account_locked"), scrape.Value("ironauth_logins_total", ("outcome", "locked")));
        Assert.Equal(1, scrape.Value("ironauth_logins_total", ("outcome", "suspended")));
        Assert.Equal(told.GetValueOrDefault("invalid_credentials"), scrape.Value("ironauth_logins_total", ("outcome", "invalid_credentials")));
        // The admin's two sign-ins (one inside CreateUserAsync) and the new user's; none of the attempts above got through.
        Assert.Equal(3, scrape.Value("ironauth_logins_total", ("outcome", "succeeded")));
        Assert.Equal(told.Values.Sum() + 3, scrape.Sum("ironauth_logins_total"));
    }

    [Fact]
    public async Task Maintenance_runs_and_what_they_purged_are_counted()
    {
        await using var server = await TestServer.StartAsync(settings: new Dictionary<string, string?> { ["IronAuth:Maintenance:Schedule"] = "0 */10 * * * *" });
        var session = await server.LoginAdminAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await server.NewClient(session.Access).PostAsync("api/auth/logout", null)).StatusCode);
        var run = server.Services.GetRequiredService<MaintenanceScheduler>().NextRunCompleted;
        server.Time.Advance(TimeSpan.FromMinutes(10));

        var report = await run.WaitAsync(TimeSpan.FromSeconds(30));
        var scrape = Scrape.Parse(await server.Client.GetStringAsync("metrics"));

        Assert.True(report.Ran && report.Complete);
        Assert.True(report.Sessions >= 1);
        Assert.Equal(1, scrape.Value("ironauth_maintenance_runs_total", ("outcome", "completed")));
        Assert.Equal(1, scrape.Sum("ironauth_maintenance_runs_total"));
        Assert.Equal(report.Sessions, scrape.Value("ironauth_maintenance_purged_total", ("kind", "sessions")));
        Assert.Equal(report.RefreshTokens, scrape.Value("ironauth_maintenance_purged_total", ("kind", "refresh_tokens")));
        Assert.Equal(report.Total, scrape.Sum("ironauth_maintenance_purged_total"));
    }

    [Fact]
    public async Task Each_server_counts_only_its_own_traffic()
    {
        await using var counted = await TestServer.StartAsync();
        await using var other = await TestServer.StartAsync();
        await counted.LoginAdminAsync();
        for (var i = 0; i < 4; i++)
        {
            await other.LoginAdminAsync();
        }

        var scrape = Scrape.Parse(await counted.Client.GetStringAsync("metrics"));

        Assert.Equal(1, scrape.Value("ironauth_logins_total", ("outcome", "succeeded")));
    }

    [Fact]
    public async Task Metrics_answer_with_the_headers_every_response_carries_and_not_under_api()
    {
        await using var server = await TestServer.StartAsync();

        var response = await server.Client.GetAsync("metrics");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.True(response.Headers.CacheControl?.NoStore);
        Assert.Equal(HttpStatusCode.NotFound, (await server.Client.GetAsync("api/metrics")).StatusCode);
    }

    [Fact]
    public async Task Disabled_metrics_are_not_served()
    {
        await using var server = await TestServer.StartAsync(settings: new Dictionary<string, string?> { ["IronAuth:Metrics:Enabled"] = "false" });

        Assert.Equal(HttpStatusCode.NotFound, (await server.Client.GetAsync("metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("api/health")).StatusCode);
    }

    [Fact]
    public async Task A_moved_path_serves_the_metrics_and_the_default_does_not()
    {
        await using var server = await TestServer.StartAsync(settings: new Dictionary<string, string?> { ["IronAuth:Metrics:Path"] = "/internal/prometheus" });
        await server.LoginAdminAsync();

        var scrape = Scrape.Parse(await server.Client.GetStringAsync("internal/prometheus"));

        Assert.Equal(1, scrape.Value("ironauth_logins_total", ("outcome", "succeeded")));
        Assert.Equal(HttpStatusCode.NotFound, (await server.Client.GetAsync("metrics")).StatusCode);
    }

    [Theory]
    [InlineData("/api/metrics")]
    [InlineData("/api")]
    [InlineData("metrics")]
    [InlineData("/metrics/")]
    [InlineData("/metrics?x=1")]
    [InlineData("/{name}")]
    public async Task A_path_under_api_or_not_a_plain_path_is_refused_at_start(string path)
    {
        var refused = await Assert.ThrowsAsync<OptionsValidationException>(
            () => TestServer.StartAsync(settings: new Dictionary<string, string?> { ["IronAuth:Metrics:Path"] = path }));

        Assert.Contains("IronAuth:Metrics:Path", refused.Message, StringComparison.Ordinal);
    }

    private static async Task<(string Token, string Id)> CreateTokenAsync(HttpClient admin, object request)
    {
        var response = await admin.PostAsJsonAsync("api/tokens", request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        var body = JsonNode.Parse(text)!;
        return (body["token"]!.GetValue<string>(), body["metadata"]!["id"]!.GetValue<string>());
    }

    private static async Task<string> VerifyAsync(HttpClient admin, string token)
    {
        var response = await admin.PostAsJsonAsync("api/tokens/verify", new { token });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.ReadJsonAsync();
        return body["valid"]!.GetValue<bool>() ? "valid" : body["code"]!.GetValue<string>();
    }
}

/// <summary>Samples of a Prometheus text exposition: name, labels, value.</summary>
internal sealed class Scrape
{
    private readonly List<(string Name, Dictionary<string, string> Labels, double Value)> samples = [];

    private Scrape(string text) => Text = text;

    public string Text { get; }

    public static Scrape Parse(string text)
    {
        var scrape = new Scrape(text);
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            var brace = line.IndexOf('{', StringComparison.Ordinal);
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            string name;
            string rest;
            if (brace >= 0 && brace < space)
            {
                name = line[..brace];
                var close = line.LastIndexOf('}');
                // Label values here are simple words (ours) or routes: no escaped quotes or commas to handle.
                foreach (var pair in line[(brace + 1)..close].Split(',', StringSplitOptions.RemoveEmptyEntries))
                {
                    var equals = pair.IndexOf('=', StringComparison.Ordinal);
                    labels[pair[..equals]] = pair[(equals + 1)..].Trim('"');
                }

                rest = line[(close + 1)..].Trim();
            }
            else
            {
                name = line[..space];
                rest = line[(space + 1)..].Trim();
            }

            var value = double.Parse(rest.Split(' ')[0], NumberStyles.Float, CultureInfo.InvariantCulture);
            scrape.samples.Add((name, labels, value));
        }

        return scrape;
    }

    /// <summary>The sum of the samples of <paramref name="name"/> that carry these labels (0 when none does).</summary>
    public double Value(string name, params (string Key, string Value)[] labels) =>
        samples.Where(s => s.Name == name && labels.All(l => s.Labels.GetValueOrDefault(l.Key) == l.Value)).Sum(s => s.Value);

    public double Sum(string name) => Value(name);

    /// <summary>Every sample name (histograms as their _bucket, _sum and _count series).</summary>
    public IReadOnlySet<string> Names => samples.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);

    /// <summary>The label names any sample of <paramref name="name"/> carries.</summary>
    public IReadOnlySet<string> Labels(string name) => samples.Where(s => s.Name == name).SelectMany(s => s.Labels.Keys).ToHashSet(StringComparer.Ordinal);
}
