using System.Net;
using IronAuth.Core.Signing;
using IronAuth.Tests.Support;
using Microsoft.IdentityModel.JsonWebTokens;

namespace IronAuth.Tests.Cli;

public sealed class KeysCommandTests : IDisposable
{
    private readonly CliRunner cli = new();

    public void Dispose() => cli.Dispose();

    [Fact]
    public async Task Keys_rotate_makes_a_new_active_key_that_a_running_server_follows_without_logging_anyone_out()
    {
        await cli.CreateUserAsync("ada", "admin");
        await using var server = await cli.StartServerAsync();
        var before = (await server.LoginAsync("ada", CliRunner.Password)).Access;
        var oldKid = new JsonWebToken(before).Kid;

        var rotated = await cli.SucceedAsync("keys", "rotate");
        var newKid = Assert.Single(rotated.OutputLines);
        Assert.NotEqual(oldKid, newKid);
        Assert.Contains("stays passive", rotated.Error, StringComparison.Ordinal);

        // The server re-reads the store within KeyRefreshInterval (30 s) and then signs with the new key.
        server.Time.Advance(TimeSpan.FromSeconds(30));
        var after = (await server.LoginAsync("ada", CliRunner.Password)).Access;
        Assert.Equal(newKid, new JsonWebToken(after).Kid);
        Assert.Equal(HttpStatusCode.OK, (await server.NewClient(before).GetAsync("api/auth/me")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.NewClient(after).GetAsync("api/auth/me")).StatusCode);

        var listed = (await cli.SucceedAsync("keys", "list")).Table();
        Assert.Equal(["KID", "ALG", "STATE", "SOURCE", "CREATED", "RETIRE AFTER"], listed[0]);
        Assert.Equal([newKid, "RS256", "active", "store"], listed[1][..4]);
        Assert.Equal([oldKid, "RS256", "passive", "store"], listed[2][..4]);
        var json = (await cli.SucceedAsync("keys", "list", "--json")).Json["keys"]!.AsArray();
        Assert.Equal([newKid, oldKid], json.Select(k => k!["kid"]!.GetValue<string>()));

        var admin = server.NewClient(after);
        var audit = (await (await admin.GetAsync("api/audit?limit=50")).ReadJsonAsync())["items"]!.AsArray();
        var entry = Assert.Single(audit, e => e!["action"]!.GetValue<string>() == "signing_key.rotated")!;
        Assert.Equal("local-operator", entry["actor_name"]!.GetValue<string>());
        Assert.Equal(oldKid, entry["details"]!["previous_kid"]!.GetValue<string>());
    }

    [Fact]
    public async Task Keys_rotate_refuses_when_the_key_is_configured()
    {
        cli.Settings["IronAuth:Jwt:SigningKey"] = SigningKeys.Generate(Core.Configuration.SigningAlgorithm.ES256);
        cli.Settings["IronAuth:Jwt:Algorithm"] = "ES256";

        var refused = await cli.RunAsync("keys", "rotate");

        refused.AssertFailed("signing_key_configured");
        Assert.Equal("", refused.Output);
        var listed = (await cli.SucceedAsync("keys", "list", "--json")).Json["keys"]!.AsArray();
        Assert.Equal("configured", Assert.Single(listed)!["source"]!.GetValue<string>());
    }
}
