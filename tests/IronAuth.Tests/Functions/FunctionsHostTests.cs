using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using IronAuth.Tests.Support;
using Xunit.Abstractions;

namespace IronAuth.Tests.Functions;

/// <summary>
/// IronAuth.Functions end to end: the real worker process under the stand-in host, over a real store. What only this
/// host has: functions bound by route, method and parameter; the host's own 404; the maintenance timer.
/// </summary>
public abstract class FunctionsHostTests(string store, ITestOutputHelper output) : IAsyncLifetime
{
    private FunctionsApp app = null!;

    public async Task InitializeAsync() => app = await FunctionsApp.StartAsync(store, output: output);

    public async Task DisposeAsync() => await app.DisposeAsync();

    [Fact]
    public async Task Every_function_in_functions_metadata_loads_and_health_answers_through_the_worker()
    {
        var declared = JsonNode.Parse(File.ReadAllText(Path.Combine(FunctionsApp.AppDirectory, "functions.metadata")))!.AsArray()
            .Select(f => f!["name"]!.GetValue<string>()).Order().ToList();

        var response = await app.Client.GetAsync("api/health");

        Assert.Equal(declared, app.Host.Functions.Select(f => f.Name).Order().ToList());
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", (await response.ReadJsonAsync())["status"]!.GetValue<string>());
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("Health", app.Host.Invocations.Last().FunctionName);
        Assert.All(app.Host.Invocations, i => Assert.True(i.Succeeded, i.Error));
    }

    [Fact]
    public async Task Get_user_by_id_runs_GetUser_with_the_route_value_and_returns_that_user()
    {
        var (username, _, tokens) = await app.CreateUserAsync("user");
        var admin = app.NewClient((await app.LoginAdminAsync()).Access);

        var response = await admin.GetAsync($"api/users/{tokens.UserId}");

        var body = await response.ReadJsonAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(tokens.UserId, body["id"]!.GetValue<string>());
        Assert.Equal(username, body["username"]!.GetValue<string>());
        Assert.Equal("GetUser", app.Host.Invocations.Last().FunctionName);
        Assert.All(app.Host.Invocations, i => Assert.True(i.Succeeded, i.Error));
    }

    [Fact]
    public async Task One_route_with_two_methods_reaches_two_functions()
    {
        var (_, _, tokens) = await app.CreateUserAsync("user");
        var admin = app.NewClient((await app.LoginAdminAsync()).Access);

        var patched = await admin.PatchAsJsonAsync($"api/users/{tokens.UserId}", new { display_name = "Grace" });
        var deleted = await admin.DeleteAsync($"api/users/{tokens.UserId}");
        var read = await (await admin.GetAsync($"api/users/{tokens.UserId}")).ReadJsonAsync();

        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        Assert.Equal("Grace", (await patched.ReadJsonAsync())["display_name"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Equal("deleted", read["status"]!.GetValue<string>());
        Assert.Equal(["UpdateUser", "DeleteUser", "GetUser"], app.Host.Invocations.TakeLast(3).Select(i => i.FunctionName));
    }

    [Fact]
    public async Task A_route_no_function_has_is_the_hosts_404_and_invokes_nothing()
    {
        var before = app.Host.Invocations.Count;

        var unknown = await app.Client.GetAsync("api/no-such-route");
        var wrongMethod = await app.Client.PutAsync("api/auth/login", HttpAssertions.Json("{}"));

        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, wrongMethod.StatusCode);
        Assert.Equal(before, app.Host.Invocations.Count);
    }

    [Fact]
    public async Task The_client_address_is_the_one_the_host_appends_never_one_the_client_sent()
    {
        // The client connects from 127.0.0.2, so its address differs from the stand-in's own connection to the worker.
        using var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0));
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        using var client = new HttpClient(handler) { BaseAddress = app.BaseAddress };
        using var login = new HttpRequestMessage(HttpMethod.Post, "api/auth/login")
        {
            Content = JsonContent.Create(new { username = app.AdminUsername, password = "not-the-admin-password" }),
        };
        login.Headers.Add("X-Forwarded-For", "203.0.113.7");

        await (await client.SendAsync(login)).AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_credentials");

        var admin = app.NewClient((await app.LoginAdminAsync()).Access);
        var audit = await (await admin.GetAsync("api/audit")).ReadJsonAsync();
        var failed = audit["items"]!.AsArray().Single(e => e!["action"]!.GetValue<string>() == "login.failed")!;
        Assert.Equal("127.0.0.2", failed["client_ip"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_maintenance_timer_runs_the_job_and_succeeds()
    {
        var invocation = await app.Host.InvokeTimerAsync("Maintenance");

        Assert.True(invocation.Succeeded, invocation.Error);
        Assert.Equal("0 */5 * * * *", app.Host.Functions.Single(f => f.Name == "Maintenance").Trigger["schedule"]!.GetValue<string>());
    }
}

public sealed class SqliteFunctionsHostTests(ITestOutputHelper output) : FunctionsHostTests(TestStore.Sqlite, output);

public sealed class TablesFunctionsHostTests(ITestOutputHelper output) : FunctionsHostTests(TestStore.Tables, output);
