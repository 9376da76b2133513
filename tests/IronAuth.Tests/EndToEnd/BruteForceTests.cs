using System.Net;
using System.Net.Http.Json;
using IronAuth.Core.Passwords;
using IronAuth.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace IronAuth.Tests.EndToEnd;

public abstract class BruteForceTests(string store)
{
    [Fact]
    public async Task Repeated_failures_lock_the_account_for_a_growing_interval()
    {
        await using var server = await TestServer.StartAsync(store, new Dictionary<string, string?>
        {
            ["IronAuth:Login:MaxFailures"] = "3",
            ["IronAuth:Login:LockoutSeconds"] = "60",
        });
        var (username, password, _) = await server.CreateUserAsync("user");
        async Task<HttpResponseMessage> Login(string pw) =>
            await server.Client.PostAsJsonAsync("api/auth/login", new { username, password = pw });

        for (var i = 0; i < 3; i++)
        {
            await (await Login("wrong-password-" + i)).AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_credentials");
        }

        // Locked: even the right password is refused until the lock expires.
        var locked = await Login(password);
        await locked.AssertProblemAsync(HttpStatusCode.TooManyRequests, "account_locked");
        Assert.Equal(TimeSpan.FromSeconds(60), locked.Headers.RetryAfter?.Delta);

        server.Time.Advance(TimeSpan.FromSeconds(61));
        for (var i = 0; i < 3; i++)
        {
            await Login("wrong-again-" + i);
        }

        var relocked = await Login(password);
        await relocked.AssertProblemAsync(HttpStatusCode.TooManyRequests, "account_locked");
        Assert.Equal(TimeSpan.FromSeconds(120), relocked.Headers.RetryAfter?.Delta);

        server.Time.Advance(TimeSpan.FromSeconds(121));
        Assert.Equal(HttpStatusCode.OK, (await Login(password)).StatusCode);
    }

    [Fact]
    public async Task One_client_address_is_throttled_per_minute()
    {
        await using var server = await TestServer.StartAsync(store, new Dictionary<string, string?> { ["IronAuth:Login:PerIpPerMinute"] = "3" });

        for (var i = 0; i < 3; i++)
        {
            var attempt = await server.Client.PostAsJsonAsync("api/auth/login", new { username = "someone", password = "wrong-password" });
            Assert.Equal(HttpStatusCode.Unauthorized, attempt.StatusCode);
        }

        var throttled = await server.Client.PostAsJsonAsync("api/auth/login", new { username = server.AdminUsername, password = TestServer.AdminPassword });
        await throttled.AssertProblemAsync(HttpStatusCode.TooManyRequests, "rate_limited");
        Assert.NotNull(throttled.Headers.RetryAfter?.Delta);

        server.Time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(HttpStatusCode.OK, (await server.Client.PostAsJsonAsync("api/auth/login", new { username = server.AdminUsername, password = TestServer.AdminPassword })).StatusCode);
    }

    [Fact]
    public async Task Unknown_usernames_cost_a_hash_like_known_ones()
    {
        // Comparable timing comes from doing the same work: an unknown name is checked against a dummy hash
        // at the configured work factor. Counting the verifications shows it deterministically, where a
        // stopwatch on a shared 2-core machine would only be noisy.
        await using var server = await TestServer.StartAsync(store, new Dictionary<string, string?> { ["IronAuth:Passwords:BcryptWorkFactor"] = "6" });
        var hasher = server.Services.GetRequiredService<PasswordHasher>();

        async Task<long> VerificationsFor(string username)
        {
            var before = hasher.Verifications;
            var response = await server.Client.PostAsJsonAsync("api/auth/login", new { username, password = "wrong-password" });
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            return hasher.Verifications - before;
        }

        Assert.Equal(1, await VerificationsFor(server.AdminUsername));
        Assert.Equal(1, await VerificationsFor("nobody-" + Guid.NewGuid().ToString("N")[..8]));
        Assert.Equal(1, await VerificationsFor("not a valid username!"));
        Assert.Equal(1, await VerificationsFor(new string('x', 500)));
    }
}

public sealed class SqliteBruteForceTests() : BruteForceTests(TestStore.Sqlite);

public sealed class TablesBruteForceTests() : BruteForceTests(TestStore.Tables);
