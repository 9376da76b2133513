using System.Collections.Concurrent;
using System.Reflection;
using IronAuth.Tests.Support.FunctionsHost;
using Xunit.Abstractions;

namespace IronAuth.Tests.Support;

/// <summary>
/// IronAuth.Functions as deployed: the real worker process (<c>dotnet IronAuth.Functions.dll</c> from the project's build
/// output) under the <see cref="StandInHost"/>, over a <see cref="TestStore"/> (a temporary SQLite file, or fresh tables on
/// the shared Azurite), with the same bootstrap admin and test settings as <see cref="TestServer"/>. The worker's RpcLog
/// and output go to the test's output.
/// <para>
/// What runs through it: <c>FunctionsHostTests</c>, <c>StartupGateTests</c>, <c>UnhandledFailureTests</c>,
/// <c>PublishLayoutTests</c>, and the Functions subclasses (<c>FunctionsSqlite*</c>, <c>FunctionsTables*</c>) of the shared
/// end-to-end suites UserTests, SignInTests, InputTests, RecoveryTests and TokenTests, and <c>FunctionsAccountTests</c>
/// (sign-up by emailed code through a pickup directory, TOTP sign-in on the real clock).
/// </para>
/// <para>
/// Server-only tests of those suites (marked <see cref="ServerFactAttribute"/> with the reason, reported as skipped on this
/// target), because the worker is another process the test cannot reach into: those that move the server's
/// <c>FakeTimeProvider</c> (refresh and access token expiry, reset token lifetime, token lifetimes compared with the clock,
/// a token's expiry verdict, bucket refill, the daily quota's reset, last-used coalescing); those that read the store
/// through the server's services (admins after concurrent demotions, a rehashed password); one that shares a fake clock
/// between two servers; and the route-table 404/405 problems, which the Functions host answers itself (404, no body).
/// </para>
/// <para>
/// Whole suites left on the server for the same reasons: BruteForce and LimitAbuse (lockout windows, refill, quotas on
/// the clock), HostileTraffic (writes tokens through the store and moves the clock), KeyRotation and Maintenance (the
/// clock, the job and the scheduler as services), Jwks (the clock in token validation, the signing key as a service),
/// OAuth (the clock), TokenPolicy (several servers on one clock, and server processes), AuditAndService and Startup (CORS
/// is a Function App platform setting; the store read through services), Metrics (the server's /metrics, which the
/// Functions app does not serve), Headers (CORS again), Tooling and Readiness (the server's builder).
/// </para>
/// </summary>
public sealed class FunctionsApp : IApiHost
{
    private readonly bool ownsStore;

    private FunctionsApp(StandInHost host, TestStore store, string adminUsername, bool ownsStore)
    {
        Host = host;
        Store = store;
        AdminUsername = adminUsername;
        this.ownsStore = ownsStore;
        Client = NewClient();
    }

    /// <summary>The Functions project's build output, which the test project builds first (see IronAuth.Tests.csproj).</summary>
    public static string AppDirectory { get; } = typeof(FunctionsApp).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "IronAuth.FunctionsApp").Value!;

    public StandInHost Host { get; }

    public Uri BaseAddress => Host.BaseAddress;

    public HttpClient Client { get; }

    public TestStore Store { get; }

    public string AdminUsername { get; }

    /// <summary>Starts the app over a fresh store of its own.</summary>
    public static async Task<FunctionsApp> StartAsync(
        string store = TestStore.Sqlite, IDictionary<string, string?>? settings = null, ITestOutputHelper? output = null, bool untilStarted = true)
    {
        var owned = await TestStore.CreateAsync(store);
        try
        {
            return await StartAsync(owned, settings, output, ownsStore: true, untilStarted);
        }
        catch
        {
            owned.Dispose();
            throw;
        }
    }

    /// <summary>Starts the app over an existing store; the caller disposes the store.</summary>
    public static Task<FunctionsApp> StartAsync(TestStore store, IDictionary<string, string?>? settings = null, ITestOutputHelper? output = null) =>
        StartAsync(store, settings, output, ownsStore: false, untilStarted: true);

    /// <remarks>
    /// With <paramref name="untilStarted"/> (as <see cref="TestServer"/> returns once start-up has run) this polls
    /// <c>/api/health</c> until it no longer says "starting"; without, it returns as soon as the host would route requests.
    /// </remarks>
    private static async Task<FunctionsApp> StartAsync(
        TestStore store, IDictionary<string, string?>? settings, ITestOutputHelper? output, bool ownsStore, bool untilStarted)
    {
        var adminUsername = "admin-" + Guid.NewGuid().ToString("N")[..8];
        var config = new Dictionary<string, string?>
        {
            ["IronAuth:Jwt:Issuer"] = store.Issuer,
            ["IronAuth:Passwords:BcryptWorkFactor"] = "4",
            ["IronAuth:Bootstrap:AdminUsername"] = adminUsername,
            ["IronAuth:Bootstrap:AdminPassword"] = TestServer.AdminPassword,
            ["IronAuth:Login:PerIpPerMinute"] = "10000",
            // The timer's %IronAuth:Maintenance:Schedule% has no default on this host: every deployment sets it.
            ["IronAuth:Maintenance:Schedule"] = "0 */5 * * * *",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        settings ??= new Dictionary<string, string?>();
        if (!settings.Keys.Any(key => key.StartsWith("IronAuth:Jwt:", StringComparison.Ordinal) && key != "IronAuth:Jwt:Issuer"))
        {
            config["IronAuth:Jwt:SigningKey"] = TestServer.SharedSigningKey.Value;
        }

        foreach (var (key, value) in store.Settings.Concat(settings))
        {
            config[key] = value;
        }

        var lines = new ConcurrentQueue<string>();
        var origin = store.ClaimOrigin();
        for (var attempt = 1; ; attempt++)
        {
            StandInHost? host = null;
            try
            {
                host = await StandInHost.StartAsync(new StandInOptions
                {
                    AppDirectory = AppDirectory,
                    Settings = config,
                    Port = origin is null ? 0 : new Uri(origin).Port,
                    Log = line =>
                    {
                        lines.Enqueue(line);
                        Write(output, line);
                    },
                });
                var app = new FunctionsApp(host, store, adminUsername, ownsStore);
                if (untilStarted)
                {
                    await app.WaitUntilStartedAsync();
                }

                return app;
            }
            catch (Exception e)
            {
                // The worker picks its own HTTP port by asking for a free one and binding it later; among the test run's
                // many processes another can take it meanwhile, and the worker exits. The real host starts a new worker.
                var exited = e is WorkerExitedException || (host is not null && await host.WorkerExitsWithinAsync(TimeSpan.FromSeconds(5)));
                if (host is not null)
                {
                    await host.DisposeAsync();
                }

                if (!exited || attempt == 3)
                {
                    throw new InvalidOperationException($"The Functions app did not start under the stand-in host: {e.Message}\n{string.Join('\n', lines)}", e);
                }

                Write(output, $"[fixture] the worker exited during start-up ({e.Message}); starting it again");
            }
        }
    }

    private async Task WaitUntilStartedAsync()
    {
        var deadline = DateTimeOffset.UtcNow.AddSeconds(60);
        while (true)
        {
            if (Host.WorkerExited)
            {
                throw new WorkerExitedException(-1);
            }

            var health = await Client.GetAsync("api/health");
            var status = (await health.ReadJsonAsync())["status"]?.GetValue<string>();
            if (status != "starting")
            {
                return;
            }

            if (DateTimeOffset.UtcNow > deadline)
            {
                throw new TimeoutException("The Functions app still says it is starting after 60 s.");
            }

            await Task.Delay(20);
        }
    }

    public HttpClient NewClient(string? bearer = null) => ApiHostCalls.NewClient(BaseAddress, bearer);

    public Task<Tokens> LoginAsync(string username, string password) => ApiHostCalls.LoginAsync(this, username, password);

    public Task<Tokens> LoginAdminAsync() => LoginAsync(AdminUsername, TestServer.AdminPassword);

    public Task<(string Username, string Password, Tokens Tokens)> CreateUserAsync(string role, string? password = null) =>
        ApiHostCalls.CreateUserAsync(this, role, password);

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Host.DisposeAsync();
        if (ownsStore)
        {
            Store.Dispose();
        }
    }

    private static void Write(ITestOutputHelper? output, string line)
    {
        try
        {
            output?.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
            // The worker may still log after its test has finished; xunit then has nowhere to put it.
        }
    }
}
