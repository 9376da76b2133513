using System.Net;
using System.Net.Http.Json;
using Xunit.Abstractions;

namespace IronAuth.Tests.Support;

/// <summary>
/// The IronAuth API under test, whichever host serves it: the self-hosted server (<see cref="TestServer"/>) or the
/// Functions app's worker under the stand-in host (<see cref="FunctionsApp"/>). The end-to-end suites written against
/// this run unchanged on both.
/// </summary>
public interface IApiHost : IAsyncDisposable
{
    Uri BaseAddress { get; }

    HttpClient Client { get; }

    /// <summary>Where the host keeps its state.</summary>
    TestStore Store { get; }

    string AdminUsername { get; }

    HttpClient NewClient(string? bearer = null);

    Task<Tokens> LoginAsync(string username, string password);

    Task<Tokens> LoginAdminAsync();

    /// <summary>Creates a user through the API as the bootstrap admin and signs it in.</summary>
    Task<(string Username, string Password, Tokens Tokens)> CreateUserAsync(string role, string? password = null);
}

/// <summary>The calls every host's test double makes the same way, through the API.</summary>
public static class ApiHostCalls
{
    public static async Task<Tokens> LoginAsync(IApiHost host, string username, string password)
    {
        var response = await host.Client.PostAsJsonAsync("api/auth/login", new { username, password });
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"Sign-in answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        var body = await response.ReadJsonAsync();
        return new Tokens(body["access_token"]!.GetValue<string>(), body["refresh_token"]!.GetValue<string>(), body["user"]!["id"]!.GetValue<string>());
    }

    public static async Task<(string Username, string Password, Tokens Tokens)> CreateUserAsync(IApiHost host, string role, string? password)
    {
        var admin = host.NewClient((await host.LoginAdminAsync()).Access);
        var username = $"{role}-{Guid.NewGuid():N}"[..20];
        password ??= "pw-" + Guid.NewGuid().ToString("N");
        var response = await admin.PostAsJsonAsync("api/users", new { username, password, role });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (username, password, await host.LoginAsync(username, password));
    }

    public static HttpClient NewClient(Uri baseAddress, string? bearer)
    {
        var client = new HttpClient { BaseAddress = baseAddress };
        if (bearer is not null)
        {
            client.DefaultRequestHeaders.Authorization = new("Bearer", bearer);
        }

        return client;
    }
}

/// <summary>
/// Which host and store an end-to-end suite runs against. A plain store name (<see cref="TestStore.Sqlite"/>,
/// <see cref="TestStore.Tables"/>) means the self-hosted server, so the suites' existing subclasses read as before.
/// </summary>
public sealed record ApiTarget(string Store, bool Functions, ITestOutputHelper? Output = null)
{
    public static implicit operator ApiTarget(string store) => new(store, Functions: false);

    /// <summary>The Functions app's worker under the stand-in host; its RpcLog and output go to the test's output.</summary>
    public static ApiTarget FunctionsOn(string store, ITestOutputHelper output) => new(store, Functions: true, output);

    public async Task<IApiHost> StartAsync(IDictionary<string, string?>? settings = null) => Functions
        ? await FunctionsApp.StartAsync(Store, settings, Output)
        : await TestServer.StartAsync(Store, settings);
}
