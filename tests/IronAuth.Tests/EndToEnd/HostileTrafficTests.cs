using System.Net;
using System.Net.Http.Json;
using IronAuth.Core;
using IronAuth.Core.Limits;
using IronAuth.Core.Tokens;
using IronAuth.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace IronAuth.Tests.EndToEnd;

/// <summary>
/// A property test in the style of <see cref="InputTests"/>: many users with hostile limits and usage values (extreme
/// doubles, <see cref="long.MaxValue"/>, negatives, tiny rates, huge bursts), and tokens stored with limits from before
/// the bounds, used concurrently with ordinary callers' tokens against a real server, while the clock jumps. No request
/// of an ordinary caller may fail, and no hostile request may be answered with a 5xx: bad input is the caller's 4xx.
/// </summary>
public abstract class HostileTrafficTests(string store) : IAsyncLifetime
{
    private static readonly string[] HostileRates =
        ["1e-300", "5e-324", "-0.0", "1e308", "0.0009", "0.001", "1000000", "1000000.5", "-1", "0", "3", "1e-7"];

    private static readonly string[] HostileBursts = ["0", "1", "-1", "2147483647", "1000000", "1000001", "20", "99999999999"];

    private static readonly string[] HostileCounts = ["0", "1", "-1", "9223372036854775807", "1000000000000", "1000000000000001", "5", "1e3"];

    private static readonly string[] HostileCosts = ["0", "0.000001", "0.0000001", "-0.5", "1000000000", "79228162514264337593543950335", "1e-300"];

    private TestServer server = null!;

    public async Task InitializeAsync() =>
        server = await TestServer.StartAsync(store, new Dictionary<string, string?> { ["IronAuth:Tokens:MaxLifetimeDays"] = "90" });

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task Hostile_limits_and_usage_never_cost_an_ordinary_caller_a_request_and_never_a_5xx()
    {
        var seed = Random.Shared.Next();
        var random = new Random(seed);
        var admin = server.NewClient((await server.LoginAdminAsync()).Access);

        // Ordinary callers: a token each, with room for every request the test makes.
        var ordinary = new List<HttpClient>();
        var ordinaryTokens = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            var (_, _, user) = await server.CreateUserAsync("user");
            var created = await admin.PostAsJsonAsync("api/tokens", new { name = "ordinary", user_id = user.UserId, limits = new { requests_per_second = 1000, burst = 100_000 } });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            var token = (await created.ReadJsonAsync())["token"]!.GetValue<string>();
            ordinaryTokens.Add(token);
            ordinary.Add(server.NewClient(token));
        }

        // Hostile callers: each asks for random limits itself, gets an admin-granted token at the extremes of the bounds,
        // and has a token stored with limits from before the bounds (the store accepts what it is given).
        var hostile = new List<string>();
        var statuses = new List<(string What, HttpStatusCode Status)>();
        var tokenStore = server.Services.GetRequiredService<IApiTokenStore>();
        for (var i = 0; i < 6; i++)
        {
            var (_, _, user) = await server.CreateUserAsync("user");
            var asUser = server.NewClient(user.Access);
            for (var j = 0; j < 4; j++)
            {
                var limits = $"{{\"requests_per_second\":{Pick(random, HostileRates)},\"burst\":{Pick(random, HostileBursts)},\"daily_requests\":{Pick(random, HostileCounts)},"
                    + $"\"daily_tokens\":{Pick(random, HostileCounts)},\"daily_cost\":{Pick(random, HostileCosts)}}}";
                var response = await asUser.PostAsync("api/tokens", HttpAssertions.Json($"{{\"name\":\"hostile\",\"limits\":{limits}}}"));
                statuses.Add(($"create {limits}", response.StatusCode));
                if (response.StatusCode == HttpStatusCode.Created)
                {
                    hostile.Add((await response.ReadJsonAsync())["token"]!.GetValue<string>());
                }
            }

            var extreme = await admin.PostAsJsonAsync("api/tokens", new
            {
                name = "extreme",
                user_id = user.UserId,
                limits = new
                {
                    requests_per_second = random.Next(2) == 0 ? TokenLimits.MinRequestsPerSecond : TokenLimits.MaxRequestsPerSecond,
                    burst = random.Next(2) == 0 ? 1 : TokenLimits.MaxBurst,
                    daily_requests = TokenLimits.MaxDailyRequests,
                    daily_tokens = random.Next(2) == 0 ? 1 : TokenLimits.MaxDailyTokens,
                    daily_cost = TokenLimits.MaxDailyCost,
                },
            });
            Assert.Equal(HttpStatusCode.Created, extreme.StatusCode);
            hostile.Add((await extreme.ReadJsonAsync())["token"]!.GetValue<string>());

            var plaintext = ApiTokenFormat.New();
            var now = server.Time.GetUtcNow();
            await tokenStore.CreateAsync(
                new ApiToken
                {
                    Id = Ids.New(server.Time),
                    UserId = user.UserId,
                    Name = "from before the bounds",
                    Prefix = ApiTokenFormat.DisplayPrefix(plaintext),
                    Digest = Ids.Digest(plaintext),
                    Scopes = ["users:read", "tokens:read", "tokens:write"],
                    Limits = new TokenLimits(Pick<double>(random, [1e-300, double.Epsilon, 1e308, 1e-9]), Pick<int>(random, [int.MaxValue, 1, 5]), long.MaxValue, long.MaxValue, 0),
                    CreatedAt = now,
                    ExpiresAt = now.AddDays(60),
                },
                false,
                default);
            hostile.Add(plaintext);
        }

        var ordinaryFailures = new List<string>();
        for (var round = 0; round < 3; round++)
        {
            // Ordinary traffic and hostile traffic at once, interleaved, so they share metering batches.
            var requests = new List<Task>();
            for (var i = 0; i < 120; i++)
            {
                var caller = i % ordinary.Count;
                var verifyUsage = $"{{\"tokens\":{random.Next(0, 1000)},\"cost\":0.0001}}";
                requests.Add(Ordinary(() => ordinary[caller].GetAsync("api/auth/me"), "bearer"));
                requests.Add(Ordinary(() => admin.PostAsync("api/tokens/verify", HttpAssertions.Json($"{{\"token\":\"{ordinaryTokens[caller]}\",\"usage\":{verifyUsage}}}")), "verify"));

                var token = hostile[random.Next(hostile.Count)];
                var usage = $"{{\"tokens\":{Pick(random, HostileCounts)},\"cost\":{Pick(random, HostileCosts)}}}";
                var after = $"{{\"requests\":{Pick(random, HostileCounts)},\"tokens\":{Pick(random, HostileCounts)},\"cost\":{Pick(random, HostileCosts)}}}";
                requests.Add(Hostile(() => server.NewClient(token).GetAsync("api/auth/me"), "hostile bearer"));
                requests.Add(Hostile(() => admin.PostAsync("api/tokens/verify", HttpAssertions.Json($"{{\"token\":\"{token}\",\"usage\":{usage}}}")), $"hostile verify {usage}"));
                if (i % 4 == 0)
                {
                    requests.Add(Hostile(async () =>
                    {
                        var me = await server.NewClient(token).GetAsync("api/auth/me");
                        var id = me.IsSuccessStatusCode ? (await me.ReadJsonAsync())["token_id"]!.GetValue<string>() : "unknown";
                        return await admin.PostAsync($"api/tokens/{id}/usage", HttpAssertions.Json(after));
                    }, $"hostile usage {after}"));
                    requests.Add(Hostile(() => server.NewClient(token).PostAsync("api/tokens", HttpAssertions.Json(
                        $"{{\"name\":\"grandchild\",\"expires_in_days\":90,\"limits\":{{\"requests_per_second\":{Pick(random, HostileRates)},\"burst\":{Pick(random, HostileBursts)}}}}}")), "hostile child"));
                }
            }

            await Task.WhenAll(requests);

            // Refill, a new UTC day, or nearly nothing: the arithmetic of every case runs again.
            server.Time.Advance(TimeSpan.FromMilliseconds(Pick<double>(random, [1.0, 999, 3_600_000, 86_400_000])));
            admin = server.NewClient((await server.LoginAdminAsync()).Access);
        }

        Assert.True(ordinaryFailures.Count == 0, $"seed {seed}: ordinary requests failed: {string.Join("; ", ordinaryFailures.Take(10))}");
        var serverErrors = statuses.Where(s => (int)s.Status >= 500).Select(s => $"{s.What} -> {(int)s.Status}").ToList();
        Assert.True(serverErrors.Count == 0, $"seed {seed}: hostile requests got 5xx: {string.Join("; ", serverErrors.Take(10))}");
        Assert.Contains(statuses, s => (int)s.Status is >= 400 and < 500);

        async Task Ordinary(Func<Task<HttpResponseMessage>> send, string what)
        {
            var response = await send();
            var body = await response.Content.ReadAsStringAsync();
            // A verify answers 200 with a verdict: an ordinary caller's must be valid, like its bearer requests.
            if (response.StatusCode != HttpStatusCode.OK || (what == "verify" && !body.Contains("\"valid\":true", StringComparison.Ordinal)))
            {
                lock (ordinaryFailures)
                {
                    ordinaryFailures.Add($"{what} -> {(int)response.StatusCode} {body}");
                }
            }
        }

        async Task Hostile(Func<Task<HttpResponseMessage>> send, string what)
        {
            var response = await send();
            if ((int)response.StatusCode >= 400)
            {
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            }

            lock (statuses)
            {
                statuses.Add((what, response.StatusCode));
            }
        }
    }

    private static T Pick<T>(Random random, IReadOnlyList<T> values) => values[random.Next(values.Count)];
}

public sealed class SqliteHostileTrafficTests() : HostileTrafficTests(TestStore.Sqlite);

public sealed class TablesHostileTrafficTests() : HostileTrafficTests(TestStore.Tables);
