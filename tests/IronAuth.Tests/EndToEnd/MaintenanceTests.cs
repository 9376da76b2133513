using System.Net;
using System.Net.Http.Json;
using IronAuth.Core.Maintenance;
using IronAuth.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace IronAuth.Tests.EndToEnd;

public abstract class MaintenanceTests(string store)
{
    [Fact]
    public async Task The_server_runs_maintenance_on_its_schedule_and_audits_it()
    {
        await using var server = await TestServer.StartAsync(store, new Dictionary<string, string?> { ["IronAuth:Maintenance:Schedule"] = "0 */10 * * * *" });
        var tokens = await server.LoginAdminAsync();
        await server.NewClient(tokens.Access).PostAsync("api/auth/logout", null);
        var scheduler = server.Services.GetRequiredService<MaintenanceScheduler>();

        var run = scheduler.NextRunCompleted;
        server.Time.Advance(TimeSpan.FromMinutes(9));
        Assert.False(run.IsCompleted);
        server.Time.Advance(TimeSpan.FromMinutes(1));
        var report = await run.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(report.Ran);
        Assert.True(report.Sessions >= 1);
        var admin = server.NewClient((await server.LoginAdminAsync()).Access);
        var audit = await (await admin.GetAsync("api/audit?limit=200")).ReadJsonAsync();
        Assert.Contains(audit["items"]!.AsArray(), e => e!["action"]!.GetValue<string>() == "maintenance.ran");
    }

    [Fact]
    public async Task Quotas_are_right_when_maintenance_never_runs()
    {
        await using var server = await TestServer.StartAsync(store, new Dictionary<string, string?> { ["IronAuth:Maintenance:Schedule"] = "0 0 0 1 1 *" });
        var admin = server.NewClient((await server.LoginAdminAsync()).Access);
        var token = (await (await admin.PostAsJsonAsync("api/tokens", new { name = "q", limits = new { daily_requests = 2 } })).ReadJsonAsync())["token"]!.GetValue<string>();
        var client = server.NewClient(token);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("api/auth/me")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("api/auth/me")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.GetAsync("api/auth/me")).StatusCode);

        // Next UTC day, no job in between: today's counter starts at zero and yesterday's stays as history.
        server.Time.Advance(TimeSpan.FromDays(1));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("api/auth/me")).StatusCode);
        var history = await (await client.GetAsync("api/tokens")).ReadJsonAsync();
        Assert.NotNull(history);
    }
}

public sealed class SqliteMaintenanceTests() : MaintenanceTests(TestStore.Sqlite);

public sealed class TablesMaintenanceTests() : MaintenanceTests(TestStore.Tables);
