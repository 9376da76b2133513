using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using IronAuth.Api;
using IronAuth.Tests.Support;
using IronAuth.Tests.Support.FunctionsHost;
using Xunit.Abstractions;

namespace IronAuth.Tests.Functions;

/// <summary>
/// <c>dotnet publish src/Functions</c>, once for the class: the folder a zip deployment to Flex Consumption carries.
/// Published from the test run's own build (<c>--no-build</c>, same configuration), so it takes seconds, not a rebuild.
/// </summary>
public sealed class PublishedApp : IDisposable
{
    private readonly TempDirectory output = new();

    public PublishedApp()
    {
        var project = new DirectoryInfo(FunctionsApp.AppDirectory).Parent!.Parent!.Parent!.FullName;
        var configuration = new DirectoryInfo(FunctionsApp.AppDirectory).Parent!.Name;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "publish", Path.Combine(project, "IronAuth.Functions.csproj"), "--no-build", "-c", configuration, "-o", output.Path })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        Log = stdout.Result + stderr.Result;
        ExitCode = process.ExitCode;
    }

    public string Directory => output.Path;

    public int ExitCode { get; }

    public string Log { get; }

    public void Dispose() => output.Dispose();
}

public sealed class PublishLayoutTests(PublishedApp app, ITestOutputHelper output) : IClassFixture<PublishedApp>
{
    [Fact]
    public void Host_json_and_worker_config_are_at_the_root_and_name_a_published_worker()
    {
        Assert.True(app.ExitCode == 0, app.Log);
        var host = JsonNode.Parse(File.ReadAllText(Path.Combine(app.Directory, "host.json")))!;
        Assert.Equal(IronAuthRoutes.Prefix, host["extensions"]!["http"]!["routePrefix"]!.GetValue<string>());
        var worker = JsonNode.Parse(File.ReadAllText(Path.Combine(app.Directory, "worker.config.json")))!["description"]!;
        Assert.Equal("dotnet-isolated", worker["language"]!.GetValue<string>());
        Assert.True(File.Exists(Path.Combine(app.Directory, worker["defaultWorkerPath"]!.GetValue<string>())));
        // The sample settings are for `func start` only; a real deployment takes app settings.
        Assert.False(File.Exists(Path.Combine(app.Directory, "local.settings.sample.json")));
    }

    [Fact]
    public void Functions_metadata_lists_every_route_as_an_http_function_and_the_maintenance_timer()
    {
        Assert.True(app.ExitCode == 0, app.Log);
        var functions = JsonNode.Parse(File.ReadAllText(Path.Combine(app.Directory, "functions.metadata")))!.AsArray()
            .ToDictionary(f => f!["name"]!.GetValue<string>(), f => f!["bindings"]!.AsArray().Single(b => b!["type"]!.GetValue<string>().EndsWith("Trigger", StringComparison.Ordinal))!);

        foreach (var route in IronAuthRoutes.All)
        {
            Assert.True(functions.TryGetValue(route.Name, out var trigger), $"{route.Name} is not in functions.metadata");
            Assert.Equal("httpTrigger", trigger["type"]!.GetValue<string>());
            Assert.Equal(route.Route, trigger["route"]!.GetValue<string>());
            Assert.Equal([route.Method.ToLowerInvariant()], trigger["methods"]!.AsArray().Select(m => m!.GetValue<string>().ToLowerInvariant()));
        }

        var timer = functions["Maintenance"];
        Assert.Equal("timerTrigger", timer["type"]!.GetValue<string>());
        Assert.Equal(FunctionsParity.ScheduleExpression, timer["schedule"]!.GetValue<string>());
        Assert.Equal(IronAuthRoutes.All.Count + 1, functions.Count);
    }

    [Fact]
    public void The_extensions_the_host_loads_are_published()
    {
        Assert.True(app.ExitCode == 0, app.Log);
        var extensions = JsonNode.Parse(File.ReadAllText(Path.Combine(app.Directory, "extensions.json")))!["extensions"]!.AsArray();

        Assert.NotEmpty(extensions);
        Assert.All(extensions, e => Assert.True(
            File.Exists(Path.Combine(app.Directory, e!["hintPath"]!.GetValue<string>())), $"{e["hintPath"]} is listed but not published"));
    }

    [Fact]
    public async Task The_published_folder_runs_under_the_stand_in_host()
    {
        Assert.True(app.ExitCode == 0, app.Log);
        using var data = new TempDirectory();
        await using var host = await StandInHost.StartAsync(new StandInOptions
        {
            AppDirectory = app.Directory,
            Settings = new Dictionary<string, string?>
            {
                ["IronAuth:Store"] = TestStore.Sqlite,
                ["IronAuth:Sqlite:Path"] = Path.Combine(data.Path, "ironauth.db"),
                ["IronAuth:Maintenance:Schedule"] = "0 */5 * * * *",
                ["IronAuth:Jwt:SigningKey"] = TestServer.SharedSigningKey.Value,
                ["Logging:LogLevel:Default"] = "Warning",
            },
            Log = output.WriteLine,
        });
        using var client = new HttpClient { BaseAddress = host.BaseAddress };

        // The ready endpoint waits for nothing: it is polled, as a platform probe would, until start-up has run.
        var deadline = DateTimeOffset.UtcNow.AddSeconds(60);
        HttpResponseMessage ready;
        while ((ready = await client.GetAsync("api/health/ready")).StatusCode != HttpStatusCode.OK && DateTimeOffset.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("api/openapi.json")).StatusCode);
    }
}
