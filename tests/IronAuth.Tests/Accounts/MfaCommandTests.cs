using System.Net;
using System.Net.Http.Json;
using IronAuth.Tests.Support;

namespace IronAuth.Tests.Accounts;

public sealed class MfaCommandTests : IDisposable
{
    private readonly CliRunner cli = new();

    public void Dispose() => cli.Dispose();

    [Fact]
    public async Task Users_reset_mfa_turns_two_factor_off_and_is_audited()
    {
        await cli.CreateUserAsync("ada");
        await using (var server = await cli.StartServerAsync())
        {
            var self = server.NewClient((await server.LoginAsync("ada", CliRunner.Password)).Access);
            var secret = (await (await self.PostAsJsonAsync("api/auth/mfa/totp", new { current_password = CliRunner.Password })).ReadJsonAsync())["secret"]!.GetValue<string>();
            var code = Rfc6238.Code(Rfc6238.Base32(secret), Rfc6238.Step(cli.Time.GetUtcNow()));
            Assert.Equal(HttpStatusCode.OK, (await self.PostAsJsonAsync("api/auth/mfa/totp/confirm", new { code })).StatusCode);
            await (await server.Client.PostAsJsonAsync("api/auth/login", new { username = "ada", password = CliRunner.Password }))
                .AssertProblemAsync(HttpStatusCode.Unauthorized, "mfa_required");
        }

        var reset = await cli.SucceedAsync("users", "reset-mfa", "ada");

        Assert.Contains("Turned two-factor sign-in off for 'ada'", reset.Output, StringComparison.Ordinal);
        await using (var server = await cli.StartServerAsync())
        {
            await server.LoginAsync("ada", CliRunner.Password);
        }

        var audit = await cli.SucceedAsync("audit", "--json");
        Assert.Contains("mfa.reset", audit.Output, StringComparison.Ordinal);
        (await cli.RunAsync("users", "reset-mfa", "nobody")).AssertFailed("not_found");
    }
}
