using System.Text.Json.Nodes;
using IronAuth.Api;
using IronAuth.Core.Maintenance;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace IronAuth.Tests.Functions;

/// <summary>
/// The Functions host is a thin adapter that cannot be built where tests run, so its parity with the route table is
/// proven on its source: one function per route, same method, route and name, each only a call into the Api handler.
/// </summary>
public sealed class FunctionsParityTests
{
    private static readonly string Root = FindRepositoryRoot();

    [Fact]
    public void Every_route_has_exactly_one_function_that_only_delegates_to_its_handler()
    {
        var sources = Directory.EnumerateFiles(Path.Combine(Root, "src", "Functions"), "*.cs", SearchOption.AllDirectories)
            .Where(path => !path.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj"))
            .Select(path => CSharpSyntaxTree.ParseText(File.ReadAllText(path), path: path))
            .ToList();
        Assert.NotEmpty(sources);

        Assert.Empty(FunctionsParity.Check(sources, IronAuthRoutes.All));
        // The baseline the negative tests below mutate one thing at a time.
        Assert.Empty(Check(AllFunctionsSource()));
    }

    [Fact]
    public void A_function_without_a_route_is_reported()
    {
        var problems = CheckWith("""
            [Function("Extra")]
            public static Task<IResult> Extra([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "extra")] HttpRequest req) =>
                AuthEndpoints.Me(req);
            """);

        Assert.Contains("Function 'Extra' (GET extra) matches no route in IronAuthRoutes.All.", problems);
    }

    [Fact]
    public void A_route_without_a_function_or_with_two_is_reported()
    {
        var withoutMe = AllFunctionsSource().Replace("""[Function("Me")]""", """[Function("Me2")]""", StringComparison.Ordinal)
            .Replace("Route = \"auth/me\"", "Route = \"auth/me2\"", StringComparison.Ordinal);
        Assert.Contains("GET auth/me (Me) has 0 functions; it needs exactly one.", Check(withoutMe));

        var twice = CheckWith("""
            [Function("MeAgain")]
            public static Task<IResult> MeAgain([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "auth/me")] HttpRequest req) =>
                AuthEndpoints.Me(req);
            """);
        Assert.Contains("GET auth/me (Me) has 2 functions; it needs exactly one.", twice);
    }

    [Fact]
    public void A_function_calling_another_handler_or_doing_more_than_delegating_is_reported()
    {
        var wrongHandler = Check(AllFunctionsSource().Replace("=> AuthEndpoints.Me(req);", "=> AuthEndpoints.Jwks(req);", StringComparison.Ordinal));
        Assert.Contains("Function 'Me' must be one call to AuthEndpoints.Me, and nothing else.", wrongHandler);

        var moreThanACall = Check(AllFunctionsSource().Replace(
            "=> AuthEndpoints.Me(req);", "{ req.HttpContext.Items[\"x\"] = 1; return AuthEndpoints.Me(req); }", StringComparison.Ordinal));
        Assert.Contains("Function 'Me' must be one call to AuthEndpoints.Me, and nothing else.", moreThanACall);

        var otherId = Check(AllFunctionsSource().Replace("UserEndpoints.Get(req, id)", "UserEndpoints.Get(req, \"me\")", StringComparison.Ordinal));
        Assert.Contains("Function 'GetUser' must pass (req, id) straight through to UserEndpoints.Get.", otherId);
    }

    [Fact]
    public void A_misnamed_protected_or_wrong_method_function_is_reported()
    {
        var misnamed = Check(AllFunctionsSource().Replace("""[Function("Me")]""", """[Function("WhoAmI")]""", StringComparison.Ordinal));
        Assert.Contains("GET auth/me: function is named 'WhoAmI', the route 'Me'.", misnamed);

        var protectedByKey = Check(AllFunctionsSource().Replace(
            "AuthorizationLevel.Anonymous, \"get\", Route = \"auth/me\"", "AuthorizationLevel.Function, \"get\", Route = \"auth/me\"", StringComparison.Ordinal));
        Assert.Contains("Function 'Me' is not AuthorizationLevel.Anonymous: IronAuth authenticates every caller itself.", protectedByKey);

        var twoMethods = Check(AllFunctionsSource().Replace("\"get\", Route = \"auth/me\"", "\"get\", \"post\", Route = \"auth/me\"", StringComparison.Ordinal));
        Assert.Contains("Function 'Me' must name exactly one HTTP method and a Route, as string literals.", twoMethods);
    }

    [Fact]
    public void A_timer_on_a_fixed_schedule_or_doing_other_work_is_reported()
    {
        var fixedSchedule = Check(AllFunctionsSource().Replace(FunctionsParity.ScheduleExpression, "0 */5 * * * *", StringComparison.Ordinal));
        Assert.Contains(fixedSchedule, p => p.StartsWith("Timer function 'Maintenance' runs on '0 */5 * * * *'", StringComparison.Ordinal));

        var otherWork = Check(AllFunctionsSource().Replace("job.RunAsync(cancellationToken)", "Task.Delay(1, cancellationToken)", StringComparison.Ordinal));
        Assert.Contains("Timer function 'Maintenance' must be one call to MaintenanceJob.RunAsync on the job its class is given, and nothing else.", otherWork);

        var noTimer = Check(AllFunctionsSource().Replace("""[Function("Maintenance")]""", "", StringComparison.Ordinal));
        Assert.Contains("There are 0 timer functions; maintenance needs exactly one.", noTimer);
    }

    [Fact]
    public void Host_settings_match_the_route_table_and_the_server_schedule()
    {
        var host = JsonNode.Parse(File.ReadAllText(Path.Combine(Root, "host.json")))!;
        Assert.Equal("2.0", host["version"]!.GetValue<string>());
        Assert.Equal(IronAuthRoutes.Prefix, host["extensions"]!["http"]!["routePrefix"]!.GetValue<string>());

        // App settings use '__' (Linux allows nothing else); the binding expression reads the same key as 'IronAuth:…'.
        var values = JsonNode.Parse(File.ReadAllText(Path.Combine(Root, "local.settings.sample.json")))!["Values"]!;
        Assert.Equal("dotnet-isolated", values["FUNCTIONS_WORKER_RUNTIME"]!.GetValue<string>());
        var setting = FunctionsParity.ScheduleExpression.Trim('%').Replace(":", "__", StringComparison.Ordinal);
        Assert.True(MaintenanceSchedule.TryParse(values[setting]?.GetValue<string>(), out _), $"{setting} is not a valid schedule");
    }

    [Fact]
    public void The_functions_project_is_built_by_the_test_command()
    {
        // The README's test command builds every project of this filter: a Functions app that no longer compiles
        // fails the run rather than the next deployment.
        var filter = JsonNode.Parse(File.ReadAllText(Path.Combine(Root, "IronAuth.Tests.slnf")))!;
        var projects = filter["solution"]!["projects"]!.AsArray().Select(p => p!.GetValue<string>().Replace('\\', '/')).ToList();
        Assert.Contains("src/Functions/IronAuth.Functions.csproj", projects);
    }

    private static IReadOnlyList<string> Check(string source) =>
        FunctionsParity.Check([CSharpSyntaxTree.ParseText(source)], IronAuthRoutes.All);

    /// <summary>The real functions plus one more class holding <paramref name="extra"/>.</summary>
    private static IReadOnlyList<string> CheckWith(string extra) =>
        Check(AllFunctionsSource() + "\npublic static class ExtraFunctions\n{\n" + extra + "\n}\n");

    /// <summary>Every real function file, concatenated, to mutate one thing at a time.</summary>
    private static string AllFunctionsSource() => string.Join(
        "\n",
        Directory.EnumerateFiles(Path.Combine(Root, "src", "Functions"), "*Function*.cs")
            .Order(StringComparer.Ordinal)
            .Select(path => string.Join("\n", File.ReadAllLines(path).Where(line => !line.StartsWith("namespace ", StringComparison.Ordinal) && !line.StartsWith("using ", StringComparison.Ordinal)))));

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "IronAuth.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No IronAuth.sln above {AppContext.BaseDirectory}.");
    }
}
