using System.Net;
using System.Text.Json.Nodes;
using IronAuth.Api.Endpoints;
using IronAuth.Api.Http;
using IronAuth.Server;
using IronAuth.Tests.Support;
using Microsoft.AspNetCore.Http;
using Xunit.Abstractions;

namespace IronAuth.Tests.EndToEnd;

/// <summary>Nothing but health is served before start-up has settled the schema and the bootstrap admin, on either host.</summary>
public sealed class StartupGateTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Before_start_up_health_says_starting_and_other_requests_get_503_starting_with_Retry_After()
    {
        using var store = await TestStore.CreateAsync(TestStore.Sqlite);
        var builder = IronAuthServer.CreateBuilder([.. store.Settings.Select(s => $"--{s.Key}={s.Value}"), "--urls=http://127.0.0.1:0"]);
        await using var app = IronAuthServer.Build(builder);

        // The real handler and gate, on the real store, before the host (and so the initializer) has started.
        var health = await RunAsync(app.Services, "/api/health", context => AuthEndpoints.Health(context.Request));
        var me = await RunAsync(app.Services, "/api/auth/me", async context =>
            await StartupGate.WaitAsync(context, TimeSpan.FromMilliseconds(50)) ?? throw new InvalidOperationException("The gate let a request through before start-up."));

        Assert.Equal(StatusCodes.Status503ServiceUnavailable, health.Status);
        Assert.Equal("1", health.RetryAfter);
        Assert.Equal("starting", health.Body["status"]!.GetValue<string>());
        Assert.Equal(StatusCodes.Status503ServiceUnavailable, me.Status);
        Assert.Equal("1", me.RetryAfter);
        Assert.Equal("starting", me.Body["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_request_held_at_the_gate_goes_ahead_once_start_up_completes()
    {
        using var store = await TestStore.CreateAsync(TestStore.Sqlite);
        var builder = IronAuthServer.CreateBuilder([.. store.Settings.Select(s => $"--{s.Key}={s.Value}"), "--urls=http://127.0.0.1:0"]);
        await using var app = IronAuthServer.Build(builder);
        var context = new DefaultHttpContext { RequestServices = app.Services };
        context.Request.Path = "/api/auth/me";

        var held = StartupGate.WaitAsync(context);
        Assert.False(held.IsCompleted);
        await app.StartAsync();

        Assert.Null(await held.WaitAsync(TimeSpan.FromSeconds(30)));
        await app.StopAsync();
    }

    /// <summary>
    /// Under the Functions host a request may arrive as soon as the functions have loaded. With a real bcrypt cost the
    /// bootstrap admin took a few hundred milliseconds more, and this sign-in was a 401 before the gate.
    /// </summary>
    [Fact]
    public async Task Through_the_worker_a_sign_in_right_after_the_handshake_on_a_fresh_store_succeeds()
    {
        await using var app = await FunctionsApp.StartAsync(TestStore.Sqlite, new Dictionary<string, string?>
        {
            ["IronAuth:Passwords:BcryptWorkFactor"] = "12",
            // Shows in the output when the bootstrap admin was made, against when the sign-in arrived.
            ["Logging:LogLevel:IronAuth"] = "Information",
        }, output, untilStarted: false);

        var login = app.LoginAdminAsync();
        var health = await app.Client.GetAsync("api/health");
        await login;

        var status = (await health.ReadJsonAsync())["status"]!.GetValue<string>();
        Assert.True(
            (health.StatusCode, status) is (HttpStatusCode.OK, "ok") or (HttpStatusCode.ServiceUnavailable, "starting"),
            $"health answered {(int)health.StatusCode} {status}");
        Assert.All(app.Host.Invocations, i => Assert.True(i.Succeeded, i.Error));
    }

    private static async Task<(int Status, string RetryAfter, JsonNode Body)> RunAsync(
        IServiceProvider services, string path, Func<HttpContext, Task<IResult>> handler)
    {
        var context = new DefaultHttpContext { RequestServices = services };
        context.Request.Path = path;
        context.Response.Body = new MemoryStream();
        await (await handler(context)).ExecuteAsync(context);
        context.Response.Body.Position = 0;
        return (context.Response.StatusCode, context.Response.Headers.RetryAfter.ToString(), JsonNode.Parse(context.Response.Body)!);
    }
}
