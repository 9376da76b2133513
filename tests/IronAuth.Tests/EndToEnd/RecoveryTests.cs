using System.Net;
using System.Net.Http.Json;
using IronAuth.Tests.Support;
using Xunit.Abstractions;

namespace IronAuth.Tests.EndToEnd;

/// <summary>Account recovery leaves nothing of an attacker's behind: sessions, API tokens, outstanding resets.</summary>
public abstract class RecoveryTests(ApiTarget target) : IAsyncLifetime
{
    private IApiHost server = null!;
    private HttpClient admin = null!;

    public async Task InitializeAsync()
    {
        server = await target.StartAsync();
        admin = server.NewClient((await server.LoginAdminAsync()).Access);
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    private async Task<string> CreateTokenAsync(string access)
    {
        var response = await server.NewClient(access).PostAsJsonAsync("api/tokens", new { name = "made-by-" + Guid.NewGuid().ToString("N")[..6] });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.ReadJsonAsync())["token"]!.GetValue<string>();
    }

    private async Task<string> IssueResetAsync(string userId) =>
        (await (await admin.PostAsync($"api/users/{userId}/password-reset", null)).ReadJsonAsync())["reset_token"]!.GetValue<string>();

    private Task<HttpResponseMessage> ConfirmAsync(string resetToken, string newPassword) =>
        server.Client.PostAsJsonAsync("api/auth/password-reset/confirm", new { reset_token = resetToken, new_password = newPassword });

    [Fact]
    public async Task A_confirmed_reset_revokes_the_users_api_tokens_and_says_so_in_the_audit()
    {
        var (_, _, user) = await server.CreateUserAsync("user");
        var attackersToken = await CreateTokenAsync(user.Access);
        Assert.Equal(HttpStatusCode.OK, (await server.NewClient(attackersToken).GetAsync("api/auth/me")).StatusCode);

        var confirmed = await ConfirmAsync(await IssueResetAsync(user.UserId), "recovered-orchid-lantern-77");

        Assert.Equal(HttpStatusCode.NoContent, confirmed.StatusCode);
        await (await server.NewClient(attackersToken).GetAsync("api/auth/me")).AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_token");
        var tokens = await (await admin.GetAsync($"api/tokens?user_id={user.UserId}")).ReadJsonAsync();
        Assert.All(tokens["items"]!.AsArray(), t => Assert.Equal("revoked", t!["state"]!.GetValue<string>()));
        var audit = await (await admin.GetAsync($"api/users/{user.UserId}/audit")).ReadJsonAsync();
        var reset = audit["items"]!.AsArray().First(e => e!["action"]!.GetValue<string>() == "user.password_reset")!;
        Assert.Equal("1", reset["details"]!["revoked_tokens"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_password_change_revokes_api_tokens_only_when_asked_and_spends_an_outstanding_reset()
    {
        var (_, password, user) = await server.CreateUserAsync("user");
        var kept = await CreateTokenAsync(user.Access);
        var outstanding = await IssueResetAsync(user.UserId);
        var self = server.NewClient(user.Access);

        var changed = await self.PostAsJsonAsync($"api/users/{user.UserId}/password", new { current_password = password, new_password = "second-velvet-compass-31" });

        Assert.Equal(HttpStatusCode.NoContent, changed.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.NewClient(kept).GetAsync("api/auth/me")).StatusCode);
        // A reset issued before the change must not undo it.
        await (await ConfirmAsync(outstanding, "attacker-picked-this-one-99")).AssertProblemAsync(HttpStatusCode.BadRequest, "invalid_reset_token");

        var revoking = await self.PostAsJsonAsync(
            $"api/users/{user.UserId}/password", new { current_password = "second-velvet-compass-31", new_password = "third-amber-riverbank-58", revoke_tokens = true });

        Assert.Equal(HttpStatusCode.NoContent, revoking.StatusCode);
        await (await server.NewClient(kept).GetAsync("api/auth/me")).AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_token");
        var audit = await (await admin.GetAsync($"api/users/{user.UserId}/audit")).ReadJsonAsync();
        var changes = audit["items"]!.AsArray().Where(e => e!["action"]!.GetValue<string>() == "user.password_changed").ToList();
        Assert.Equal(["1", "0"], changes.Select(c => c!["details"]!["revoked_tokens"]!.GetValue<string>()));
        Assert.Equal(["0", "1"], changes.Select(c => c!["details"]!["spent_resets"]!.GetValue<string>()));
    }
}

public sealed class SqliteRecoveryTests() : RecoveryTests(TestStore.Sqlite);

public sealed class TablesRecoveryTests() : RecoveryTests(TestStore.Tables);

public sealed class FunctionsSqliteRecoveryTests(ITestOutputHelper output) : RecoveryTests(ApiTarget.FunctionsOn(TestStore.Sqlite, output)), IRunsOnFunctions;

public sealed class FunctionsTablesRecoveryTests(ITestOutputHelper output) : RecoveryTests(ApiTarget.FunctionsOn(TestStore.Tables, output)), IRunsOnFunctions;
