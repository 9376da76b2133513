using System.Net.Http.Json;
using System.Text.Json.Nodes;
using IronAuth.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace IronAuth.Tests.Budgets;

/// <summary>jose (the Node JWT library) verifies an IC token from the JWKS found through discovery, and tells it from an access token.</summary>
public sealed class IcTokenJoseTests : IAsyncLifetime
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

    [Fact]
    public async Task Jose_verifies_an_ic_token_as_ic_jwt_and_refuses_it_as_an_access_token_and_the_reverse()
    {
        var login = await server.LoginAdminAsync();
        var admin = server.NewClient(login.Access);
        var budgetId = (await (await admin.PostAsJsonAsync("api/budgets", new { name = "jose", allocation = 1m })).ReadJsonAsync())["id"]!.GetValue<string>();
        var minted = await (await admin.PostAsJsonAsync($"api/budgets/{budgetId}/ic-tokens", new { agent_id = "node-agent", permissions = new[] { "handshake", "report" } })).ReadJsonAsync();
        var token = minted["token"]!.GetValue<string>();

        var (exitCode, output, standardOutput) = await NodePackages.RunNodeAsync(tools, null, "jose-verify-ic.mjs", server.Issuer, "ironauth-budgets", token);

        Assert.True(exitCode == 0, output);
        var claims = JsonNode.Parse(standardOutput.Trim().Split('\n')[^1])!;
        Assert.Equal(("ic+jwt", "node-agent", "node-agent", budgetId), (claims["typ"]!.GetValue<string>(), claims["sub"]!.GetValue<string>(), claims["agent_id"]!.GetValue<string>(), claims["budget_id"]!.GetValue<string>()));
        Assert.Equal(["handshake", "report"], claims["permissions"]!.AsArray().Select(p => p!.GetValue<string>()));
        Assert.Equal(minted["jti"]!.GetValue<string>(), claims["jti"]!.GetValue<string>());

        // Each is refused where the other is expected: the type (and the audience) differ.
        Assert.NotEqual(0, (await NodePackages.RunNodeAsync(tools, null, "jose-verify.mjs", server.Issuer, "ironauth-budgets", token)).ExitCode);
        Assert.NotEqual(0, (await NodePackages.RunNodeAsync(tools, null, "jose-verify-ic.mjs", server.Issuer, "ironauth", login.Access)).ExitCode);
    }
}
