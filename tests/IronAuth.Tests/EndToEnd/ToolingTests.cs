using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using IronAuth.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace IronAuth.Tests.EndToEnd;

/// <summary>
/// IronAuth against the tools people point at it, run for real from tests/node-tools: Redocly's linter on the served
/// OpenAPI document, a client generated from that document (openapi-typescript, type-checked by tsc, called through
/// openapi-fetch), and jose verifying an access token through discovery.
/// </summary>
public sealed class ToolingTests : IAsyncLifetime
{
    private TestServer server = null!;
    private string tools = null!;

    public async Task InitializeAsync()
    {
        tools = NodePackages.Find("node-tools");
        await NodePackages.EnsureInstalledAsync(tools);
        // jose checks lifetimes against the machine's clock, so this server's clock starts there.
        server = await TestServer.StartAsync(time: new FakeTimeProvider(DateTimeOffset.UtcNow));
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    private async Task<string> SaveDocumentAsync()
    {
        var path = Path.Combine(tools, "client", "generated", "openapi.json");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllTextAsync(path, await server.Client.GetStringAsync("api/openapi.json"));
        return path;
    }

    private async Task<string> NodeAsync(IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var (exitCode, output, standardOutput) = await NodePackages.RunNodeAsync(tools, environment, args);
        Assert.True(exitCode == 0, $"node {string.Join(' ', args)} exited {exitCode}:\n{output}");
        return standardOutput;
    }

    [Fact]
    public async Task Redocly_finds_no_error_in_the_served_openapi_document()
    {
        var document = await SaveDocumentAsync();

        var (exitCode, output, report) = await NodePackages.RunNodeAsync(
            tools, null, "node_modules/@redocly/cli/bin/cli.js", "lint", document, "--format=json", "--extends=recommended");

        // The report is the first JSON value on standard output; notices may follow it.
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(report[report.IndexOf('{', StringComparison.Ordinal)..]), new JsonReaderOptions { AllowMultipleValues = true });
        var lint = JsonNode.Parse(ref reader)!;
        var errors = lint["problems"]!.AsArray().Where(p => p!["severity"]!.GetValue<string>() == "error").Select(p => p!.ToJsonString()).ToList();
        Assert.True(errors.Count == 0, string.Join("\n", errors));
        Assert.True(exitCode == 0, output);
        Assert.Equal(0, lint["totals"]!["errors"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_client_generated_from_the_document_type_checks_and_calls_the_api()
    {
        var document = await SaveDocumentAsync();
        await NodeAsync(null, "node_modules/openapi-typescript/bin/cli.js", document, "--output", Path.Combine(tools, "client", "generated", "ironauth.d.ts"));
        await NodeAsync(null, "node_modules/typescript/bin/tsc", "--project", "client");

        var output = await NodeAsync(
            new Dictionary<string, string>
            {
                ["IRONAUTH_URL"] = server.BaseAddress.ToString().TrimEnd('/'),
                ["IRONAUTH_ADMIN"] = server.AdminUsername,
                ["IRONAUTH_PASSWORD"] = TestServer.AdminPassword,
            },
            "client/out/client.js");

        var result = JsonNode.Parse(output.Trim().Split('\n')[^1])!;
        Assert.Equal(201, result["created"]!.GetValue<int>());
        Assert.Equal("iron_", result["prefix"]!.GetValue<string>());
        Assert.Equal(1, result["page"]!.GetValue<int>());
        Assert.Equal("admin", result["role"]!.GetValue<string>());
        Assert.Equal(404, result["missing"]!.GetValue<int>());
        Assert.Equal("not_found", result["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Jose_verifies_an_access_token_with_keys_found_through_discovery()
    {
        var login = await server.LoginAdminAsync();

        var output = await NodeAsync(null, "jose-verify.mjs", server.Issuer, "ironauth", login.Access);

        var payload = JsonNode.Parse(output.Trim().Split('\n')[^1])!;
        Assert.Equal(server.Issuer, payload["issuer"]!.GetValue<string>());
        Assert.Equal(login.UserId, payload["sub"]!.GetValue<string>());
        Assert.Equal("ironauth", payload["client_id"]!.GetValue<string>());

        // A token with one character of its signature changed is refused: the check above was the signature's.
        var tampered = login.Access[..^2] + (login.Access[^2] == 'A' ? "B" : "A") + login.Access[^1];
        var (exitCode, _, _) = await NodePackages.RunNodeAsync(tools, null, "jose-verify.mjs", server.Issuer, "ironauth", tampered);
        Assert.NotEqual(0, exitCode);
    }
}
