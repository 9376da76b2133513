using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using IronAuth.Core.Configuration;
using IronAuth.Core.Signing;
using IronAuth.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace IronAuth.Tests.Support;

/// <summary>
/// The real IronAuth server (Kestrel on a free loopback port) over a <see cref="TestStore"/> (a temporary
/// SQLite file, or fresh tables on the shared Azurite), with a bootstrap admin and a clock the test moves.
/// </summary>
public sealed class TestServer : IApiHost
{
    public const string AdminPassword = "admin-Passw0rd-for-tests";

    internal static readonly Lazy<string> SharedSigningKey = new(() => SigningKeys.Generate(SigningAlgorithm.RS256));

    private readonly WebApplication app;
    private readonly bool ownsStore;

    private TestServer(WebApplication app, FakeTimeProvider time, TestStore store, string adminUsername, bool ownsStore)
    {
        this.app = app;
        Time = time;
        Store = store;
        AdminUsername = adminUsername;
        this.ownsStore = ownsStore;
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        BaseAddress = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal) + "/");
        Client = NewClient();
    }

    public FakeTimeProvider Time { get; }

    /// <summary>Where the server keeps its state; start another server on it to share that state.</summary>
    public TestStore Store { get; }

    public string AdminUsername { get; }

    public Uri BaseAddress { get; }

    public HttpClient Client { get; }

    /// <summary>The configured issuer: the <c>iss</c> of its tokens, and where its discovery document is.</summary>
    public string Issuer => Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<IronAuthOptions>>().Value.Jwt.Issuer;

    public IServiceProvider Services => app.Services;

    /// <summary>Starts a server over a fresh store of its own of the given kind (<see cref="TestStore.Sqlite"/> or <see cref="TestStore.Tables"/>).</summary>
    /// <param name="services">Registrations after the server's own (a later registration of a service wins).</param>
    public static async Task<TestServer> StartAsync(
        string store = TestStore.Sqlite, IDictionary<string, string?>? settings = null, FakeTimeProvider? time = null, Action<IServiceCollection>? services = null)
    {
        var owned = await TestStore.CreateAsync(store);
        try
        {
            return await StartAsync(owned, settings, time, ownsStore: true, services);
        }
        catch
        {
            owned.Dispose();
            throw;
        }
    }

    /// <summary>Starts a server over an existing store, shared with other servers; the caller disposes the store.</summary>
    public static Task<TestServer> StartAsync(TestStore store, IDictionary<string, string?>? settings = null, FakeTimeProvider? time = null) =>
        StartAsync(store, settings, time, ownsStore: false);

    private static async Task<TestServer> StartAsync(
        TestStore store, IDictionary<string, string?>? settings, FakeTimeProvider? time, bool ownsStore, Action<IServiceCollection>? services = null)
    {
        var adminUsername = "admin-" + Guid.NewGuid().ToString("N")[..8];
        var claimed = store.ClaimOrigin();
        var config = new Dictionary<string, string?>
        {
            // The issuer names the address clients reach, so discovery's URLs work: the store's first server listens
            // there; later ones share the issuer (instances of one deployment do) and listen anywhere.
            ["urls"] = claimed ?? "http://127.0.0.1:0",
            ["IronAuth:Jwt:Issuer"] = store.Issuer,
            ["IronAuth:Passwords:BcryptWorkFactor"] = "4",
            ["IronAuth:Bootstrap:AdminUsername"] = adminUsername,
            ["IronAuth:Bootstrap:AdminPassword"] = AdminPassword,
            ["IronAuth:Login:PerIpPerMinute"] = "10000",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        settings ??= new Dictionary<string, string?>();
        if (!settings.Keys.Any(key => key.StartsWith("IronAuth:Jwt:", StringComparison.Ordinal) && key != "IronAuth:Jwt:Issuer"))
        {
            // Generating an RSA key costs 100-250 ms of CPU, on every one of the ~150 server starts of a run on
            // two cores. Tests of the generated-and-stored key say so by setting an IronAuth:Jwt: key themselves.
            config["IronAuth:Jwt:SigningKey"] = SharedSigningKey.Value;
        }

        foreach (var (key, value) in store.Settings.Concat(settings))
        {
            config[key] = value;
        }

        var args = config.Where(c => c.Value is not null).Select(c => $"--{c.Key}={c.Value}").ToArray();
        var builder = IronAuthServer.CreateBuilder(args);
        time ??= new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero));
        builder.Services.AddSingleton<TimeProvider>(time);
        services?.Invoke(builder.Services);
        var app = IronAuthServer.Build(builder);
        try
        {
            await app.StartAsync();
        }
        catch (Exception e)
        {
            await app.DisposeAsync();
            // The store's origin was a free port when the store was made; another process of the run (a worker, a
            // server process) may have bound it since. Nobody has listened at that issuer yet: the store moves.
            if (claimed is not null && e is IOException { InnerException: AddressInUseException } && store.MoveOrigin())
            {
                return await StartAsync(store, settings, time, ownsStore, services);
            }

            throw;
        }

        return new TestServer(app, time, store, adminUsername, ownsStore);
    }

    public HttpClient NewClient(string? bearer = null) => ApiHostCalls.NewClient(BaseAddress, bearer);

    public Task<Tokens> LoginAsync(string username, string password) => ApiHostCalls.LoginAsync(this, username, password);

    public Task<Tokens> LoginAdminAsync() => LoginAsync(AdminUsername, AdminPassword);

    /// <summary>Creates a user through the API as the bootstrap admin and signs it in.</summary>
    public Task<(string Username, string Password, Tokens Tokens)> CreateUserAsync(string role, string? password = null) =>
        ApiHostCalls.CreateUserAsync(this, role, password);

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
        if (ownsStore)
        {
            Store.Dispose();
        }
    }
}

/// <summary>
/// Where test servers keep their state: a temporary SQLite file, or tables of a fresh prefix on the shared
/// Azurite. Servers started on one store share its state, as processes on one database would.
/// </summary>
public sealed class TestStore : IDisposable
{
    public const string Sqlite = "sqlite";
    public const string Tables = "tables";

    private readonly TempDirectory? directory;
    private string origin = NewOrigin();
    private int originClaimed;
    private int originMoves;

    private TestStore(string kind, IReadOnlyDictionary<string, string?> settings, TempDirectory? directory)
    {
        Kind = kind;
        Settings = settings;
        this.directory = directory;
    }

    public string Kind { get; }

    /// <summary>The IronAuth:Store settings that point a server at this store.</summary>
    public IReadOnlyDictionary<string, string?> Settings { get; }

    /// <summary>The SQLite file; only for <see cref="Sqlite"/> stores.</summary>
    public string DatabasePath => Settings["IronAuth:Sqlite:Path"]!;

    public static async Task<TestStore> CreateAsync(string kind)
    {
        switch (kind)
        {
            case Sqlite:
                var directory = new TempDirectory();
                return new TestStore(kind, new Dictionary<string, string?>
                {
                    ["IronAuth:Store"] = Sqlite,
                    ["IronAuth:Sqlite:Path"] = Path.Combine(directory.Path, "ironauth.db"),
                }, directory);
            case Tables:
                var azurite = await Azurite.GetAsync();
                return new TestStore(kind, azurite.NewStoreSettings().AsReadOnly(), null);
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "A test store is 'sqlite' or 'tables'.");
        }
    }

    /// <summary>An existing SQLite file that the caller owns.</summary>
    public static TestStore AtSqliteFile(string path) => new(Sqlite, new Dictionary<string, string?>
    {
        ["IronAuth:Store"] = Sqlite,
        ["IronAuth:Sqlite:Path"] = path,
    }, null);

    /// <summary>The issuer of every server on this store: the address of the first one, with the /api prefix.</summary>
    public string Issuer => origin + "/api";

    /// <summary>The address the first server started on this store listens on; null for every later one.</summary>
    public string? ClaimOrigin() => Interlocked.Exchange(ref originClaimed, 1) == 0 ? origin : null;

    /// <summary>
    /// After the first server could not bind the claimed origin (taken since it was chosen): a new free port, to be
    /// claimed again; false after three moves.
    /// </summary>
    public bool MoveOrigin()
    {
        if (Interlocked.Increment(ref originMoves) > 3)
        {
            return false;
        }

        origin = NewOrigin();
        Volatile.Write(ref originClaimed, 0);
        return true;
    }

    private static string NewOrigin() => $"http://127.0.0.1:{Azurite.FreePort()}";

    public void Dispose() => directory?.Dispose();
}

public sealed record Tokens(string Access, string Refresh, string UserId);

public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ironauth-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public void Dispose()
    {
        // Pooled SQLite connections hold the file open until the pool is cleared.
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

public static class HttpAssertions
{
    public static async Task<JsonNode> ReadJsonAsync(this HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return JsonNode.Parse(text) ?? throw new InvalidOperationException("Empty JSON body.");
    }

    /// <summary>Asserts an RFC 9457 problem with this status and code, and returns its body.</summary>
    public static async Task<JsonNode> AssertProblemAsync(this HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"Expected {(int)status} {code}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var body = JsonNode.Parse(text)!;
        Assert.Equal(code, body["code"]?.GetValue<string>());
        Assert.Equal((int)status, body["status"]!.GetValue<int>());
        Assert.False(string.IsNullOrEmpty(body["title"]?.GetValue<string>()));
        Assert.False(string.IsNullOrEmpty(body["detail"]?.GetValue<string>()));
        return body;
    }

    public static StringContent Json(string raw) => new(raw, System.Text.Encoding.UTF8, "application/json");

    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web);
}
