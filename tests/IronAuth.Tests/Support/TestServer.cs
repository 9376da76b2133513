using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using IronAuth.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace IronAuth.Tests.Support;

/// <summary>
/// The real IronAuth server (Kestrel on a free loopback port) over a temporary SQLite file, with a
/// bootstrap admin and a clock the test moves.
/// </summary>
public sealed class TestServer : IAsyncDisposable
{
    public const string AdminPassword = "admin-Passw0rd-for-tests";

    private readonly WebApplication app;
    private readonly TempDirectory? ownedDirectory;

    private TestServer(WebApplication app, FakeTimeProvider time, string databasePath, string adminUsername, TempDirectory? ownedDirectory)
    {
        this.app = app;
        Time = time;
        DatabasePath = databasePath;
        AdminUsername = adminUsername;
        this.ownedDirectory = ownedDirectory;
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        BaseAddress = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal) + "/");
        Client = NewClient();
    }

    public FakeTimeProvider Time { get; }

    public string DatabasePath { get; }

    public string AdminUsername { get; }

    public Uri BaseAddress { get; }

    public HttpClient Client { get; }

    public IServiceProvider Services => app.Services;

    /// <summary>Starts a server. <paramref name="databasePath"/> lets several servers share one file.</summary>
    public static async Task<TestServer> StartAsync(
        IDictionary<string, string?>? settings = null, string? databasePath = null, FakeTimeProvider? time = null)
    {
        TempDirectory? owned = null;
        if (databasePath is null)
        {
            owned = new TempDirectory();
            databasePath = Path.Combine(owned.Path, "ironauth.db");
        }

        var adminUsername = "admin-" + Guid.NewGuid().ToString("N")[..8];
        var config = new Dictionary<string, string?>
        {
            ["urls"] = "http://127.0.0.1:0",
            ["IronAuth:Sqlite:Path"] = databasePath,
            ["IronAuth:Passwords:BcryptWorkFactor"] = "4",
            ["IronAuth:Bootstrap:AdminUsername"] = adminUsername,
            ["IronAuth:Bootstrap:AdminPassword"] = AdminPassword,
            ["IronAuth:Login:PerIpPerMinute"] = "10000",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            config[key] = value;
        }

        var args = config.Where(c => c.Value is not null).Select(c => $"--{c.Key}={c.Value}").ToArray();
        var builder = IronAuthServer.CreateBuilder(args);
        time ??= new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero));
        builder.Services.AddSingleton<TimeProvider>(time);
        var app = IronAuthServer.Build(builder);
        await app.StartAsync();
        return new TestServer(app, time, databasePath, adminUsername, owned);
    }

    public HttpClient NewClient(string? bearer = null)
    {
        var client = new HttpClient { BaseAddress = BaseAddress };
        if (bearer is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        return client;
    }

    public async Task<Tokens> LoginAsync(string username, string password)
    {
        var response = await Client.PostAsJsonAsync("api/auth/login", new { username, password });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.ReadJsonAsync();
        return new Tokens(body["access_token"]!.GetValue<string>(), body["refresh_token"]!.GetValue<string>(), body["user"]!["id"]!.GetValue<string>());
    }

    public Task<Tokens> LoginAdminAsync() => LoginAsync(AdminUsername, AdminPassword);

    /// <summary>Creates a user through the API as the bootstrap admin and signs it in.</summary>
    public async Task<(string Username, string Password, Tokens Tokens)> CreateUserAsync(string role, string? password = null)
    {
        var admin = NewClient((await LoginAdminAsync()).Access);
        var username = $"{role}-{Guid.NewGuid():N}"[..20];
        password ??= "pw-" + Guid.NewGuid().ToString("N");
        var response = await admin.PostAsJsonAsync("api/users", new { username, password, role });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (username, password, await LoginAsync(username, password));
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
        ownedDirectory?.Dispose();
    }
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
