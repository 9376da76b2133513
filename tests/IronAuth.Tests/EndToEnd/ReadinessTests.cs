using System.Net;
using System.Text.Json.Nodes;
using IronAuth.Api.Endpoints;
using IronAuth.Server;
using IronAuth.Tests.Support;
using Microsoft.AspNetCore.Http;

namespace IronAuth.Tests.EndToEnd;

public abstract class ReadinessTests(string store)
{
    [Fact]
    public async Task A_started_server_is_ready()
    {
        await using var server = await TestServer.StartAsync(store);

        var response = await server.Client.GetAsync("api/health/ready");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.ReadJsonAsync();
        Assert.Equal("ready", body["status"]!.GetValue<string>());
        Assert.All(body["checks"]!.AsObject(), check => Assert.True(check.Value!.GetValue<bool>(), check.Key));
    }

    [Fact]
    public async Task Before_start_up_has_run_readiness_is_a_503_naming_what_is_not_done()
    {
        using var testStore = await TestStore.CreateAsync(store);
        var builder = IronAuthServer.CreateBuilder([.. testStore.Settings.Select(s => $"--{s.Key}={s.Value}"), "--urls=http://127.0.0.1:0"]);
        await using var app = IronAuthServer.Build(builder);
        var context = new DefaultHttpContext { RequestServices = app.Services };
        context.Response.Body = new MemoryStream();

        // The real handler, on the real store, before the host (and so the initializer) has started.
        await (await AuthEndpoints.Ready(context.Request)).ExecuteAsync(context);

        Assert.Equal(StatusCodes.Status503ServiceUnavailable, context.Response.StatusCode);
        Assert.Equal("5", context.Response.Headers.RetryAfter.ToString());
        context.Response.Body.Position = 0;
        var body = JsonNode.Parse(context.Response.Body)!;
        Assert.Equal("not_ready", body["status"]!.GetValue<string>());
        Assert.False(body["checks"]!["schema"]!.GetValue<bool>());
        Assert.False(body["checks"]!["bootstrap"]!.GetValue<bool>());

        await app.StartAsync();
        using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First() + "/") };
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("api/health/ready")).StatusCode);
        await app.StopAsync();
    }
}

public sealed class SqliteReadinessTests() : ReadinessTests(TestStore.Sqlite);

public sealed class TablesReadinessTests() : ReadinessTests(TestStore.Tables);
