using System.Net;
using System.Net.Http.Json;
using IronAuth.Tests.Support;

namespace IronAuth.Tests.Cli;

public sealed class UsageCommandTests : IDisposable
{
    private readonly CliRunner cli = new();

    public void Dispose() => cli.Dispose();

    [Fact]
    public async Task Usage_sums_what_tokens_did_over_http_by_user_and_by_model_as_a_table_or_json()
    {
        await cli.CreateUserAsync("ada");
        await cli.CreateUserAsync("root", "admin");
        var ada = (await cli.SucceedAsync("tokens", "create", "--user", "ada", "--name", "ada-app")).OutputLines.Single();
        var gateway = (await cli.SucceedAsync("tokens", "create", "--user", "root", "--name", "gateway", "--scope", "tokens:verify", "--burst", "100")).OutputLines.Single();
        await using var server = await cli.StartServerAsync();
        Assert.Equal(HttpStatusCode.OK, (await server.NewClient(ada).GetAsync("api/auth/me")).StatusCode);
        var verified = await server.NewClient(gateway).PostAsJsonAsync(
            "api/tokens/verify", new { token = ada, usage = new { model = "gpt-4o", provider = "openai", input_tokens = 30, output_tokens = 12, cost = 0.25m } });
        Assert.Equal(HttpStatusCode.OK, verified.StatusCode);

        // The gateway's own bearer use is usage too (root's); --user narrows to ada's.
        var byUser = (await cli.SucceedAsync("usage", "--group-by", "user", "--period", "today", "--user", "ada", "--json")).Json;
        var item = Assert.Single(byUser["items"]!.AsArray())!;
        Assert.Equal(("ada", 2L, 42L, 0.25m), (item["name"]!.GetValue<string>(), item["requests"]!.GetValue<long>(), item["tokens"]!.GetValue<long>(), item["cost"]!.GetValue<decimal>()));

        var table = (await cli.SucceedAsync("usage", "--group-by", "model")).Table();
        Assert.Equal(["MODEL", "NAME", "REQUESTS", "TOKENS", "INPUT", "OUTPUT", "COST"], table[0]);
        Assert.Equal(["gpt-4o", "gpt-4o", "1", "42", "30", "12", "0.25"], table[1]);
        Assert.Equal(["-", "unspecified", "2", "0", "0", "0", "0"], table[2]);
        Assert.Equal("TOTAL", table[^1][0]);

        (await cli.RunAsync("usage", "--from", "yesterday")).AssertFailed("validation_failed");
        (await cli.RunAsync("usage", "--user", "nobody")).AssertFailed("not_found");
    }
}
