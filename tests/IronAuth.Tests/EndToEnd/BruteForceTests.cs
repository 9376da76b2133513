using System.Net;
using System.Net.Http.Json;
using IronAuth.Tests.Support;

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
}

public sealed class SqliteBruteForceTests() : BruteForceTests(TestStore.Sqlite)
{
    // The dummy hash is SignInManager's, whatever the store. Over SQLite a store call costs microseconds, so
    // the comparison measures the hash; over Azurite a known user's failure makes a few more round trips (its
    // lockout counter, its audit copy), which on a loaded machine outweigh a 15 ms hash and would make the
    // comparison measure the emulator instead.
    [Fact]
    public async Task Unknown_usernames_cost_a_hash_like_known_ones()
    {
        // The floor is one bcrypt verify at the server's work factor, timed right here. Load can only make
        // the server slower, never faster than a hash, so the check holds on a busy machine too; without the
        // dummy hash an unknown name would answer in about a millisecond.
        await using var server = await TestServer.StartAsync(TestStore.Sqlite, new Dictionary<string, string?> { ["IronAuth:Passwords:BcryptWorkFactor"] = "10" });
        var hash = BCrypt.Net.BCrypt.HashPassword("reference", 10);
        var oneHash = await Fastest(3, () =>
        {
            BCrypt.Net.BCrypt.Verify("wrong-password", hash);
            return Task.CompletedTask;
        });

        var unknown = await Fastest(5, () => server.Client.PostAsJsonAsync("api/auth/login", new { username = "nobody-" + Guid.NewGuid().ToString("N")[..8], password = "wrong-password" }));
        var known = await Fastest(3, () => server.Client.PostAsJsonAsync("api/auth/login", new { username = server.AdminUsername, password = "wrong-password" }));

        Assert.True(unknown > oneHash * 0.5, $"unknown user {unknown.TotalMilliseconds} ms vs one hash {oneHash.TotalMilliseconds} ms");
        Assert.True(known > oneHash * 0.5, $"known user {known.TotalMilliseconds} ms vs one hash {oneHash.TotalMilliseconds} ms");
    }

    private static async Task<TimeSpan> Fastest(int times, Func<Task> action)
    {
        var best = TimeSpan.MaxValue;
        for (var i = 0; i < times; i++)
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            await action();
            var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started);
            best = elapsed < best ? elapsed : best;
        }

        return best;
    }
}

public sealed class TablesBruteForceTests() : BruteForceTests(TestStore.Tables);
