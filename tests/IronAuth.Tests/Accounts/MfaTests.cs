using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using IronAuth.Core.Mfa;
using IronAuth.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace IronAuth.Tests.Accounts;

/// <summary>TOTP two-factor sign-in end to end, on both stores; codes come from <see cref="Rfc6238"/>, not the server's library.</summary>
public abstract class MfaTests(string store) : IAsyncLifetime
{
    private TestServer server = null!;

    public async Task InitializeAsync() => server = await TestServer.StartAsync(store);

    public async Task DisposeAsync() => await server.DisposeAsync();

    private string Code(string secret, int stepsFromNow = 0) =>
        Rfc6238.Code(Rfc6238.Base32(secret), Rfc6238.Step(server.Time.GetUtcNow()) + stepsFromNow);

    private Task<HttpResponseMessage> LoginAsync(string username, string password) =>
        server.Client.PostAsJsonAsync("api/auth/login", new { username, password });

    private Task<HttpResponseMessage> VerifyAsync(string mfaToken, string code) =>
        server.Client.PostAsJsonAsync("api/auth/mfa/verify", new { mfa_token = mfaToken, code });

    private async Task<string> MfaTokenAsync(string username, string password, TestServer? through = null)
    {
        var login = await (through ?? server).Client.PostAsJsonAsync("api/auth/login", new { username, password });
        var body = await login.AssertProblemAsync(HttpStatusCode.Unauthorized, "mfa_required");
        Assert.Null(body["access_token"]);
        return body["mfa_token"]!.GetValue<string>();
    }

    /// <summary>A user with TOTP on: its name, password, secret and recovery codes.</summary>
    private async Task<(string Username, string Password, string UserId, string Secret, List<string> RecoveryCodes)> EnrolledUserAsync()
    {
        var (username, password, tokens) = await server.CreateUserAsync("user");
        var self = server.NewClient(tokens.Access);
        var setup = await self.PostAsJsonAsync("api/auth/mfa/totp", new { current_password = password });
        Assert.Equal(HttpStatusCode.OK, setup.StatusCode);
        var body = await setup.ReadJsonAsync();
        var secret = body["secret"]!.GetValue<string>();
        var confirmed = await self.PostAsJsonAsync("api/auth/mfa/totp/confirm", new { code = Code(secret) });
        Assert.Equal(HttpStatusCode.OK, confirmed.StatusCode);
        var codes = (await confirmed.ReadJsonAsync())["recovery_codes"]!.AsArray().Select(c => c!.GetValue<string>()).ToList();
        // The confirming code's step is spent: later sign-ins use the next one.
        server.Time.Advance(TimeSpan.FromSeconds(30));
        return (username, password, tokens.UserId, secret, codes);
    }

    [Fact]
    public async Task Enrolment_gives_a_secret_uri_and_qr_code_and_confirmation_gives_ten_recovery_codes()
    {
        var (username, password, tokens) = await server.CreateUserAsync("user");
        var self = server.NewClient(tokens.Access);

        // A stolen access token alone cannot enrol an authenticator: the password is proved first, under the lockout.
        await (await self.PostAsync("api/auth/mfa/totp", HttpAssertions.Json("{}"))).AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await self.PostAsJsonAsync("api/auth/mfa/totp", new { current_password = "not-the-password" }))
            .AssertProblemAsync(HttpStatusCode.Forbidden, "invalid_credentials");
        var setup = await self.PostAsJsonAsync("api/auth/mfa/totp", new { current_password = password });

        Assert.Equal(HttpStatusCode.OK, setup.StatusCode);
        Assert.True(setup.Headers.CacheControl?.NoStore);
        var body = await setup.ReadJsonAsync();
        var secret = body["secret"]!.GetValue<string>();
        Assert.Equal(20, Rfc6238.Base32(secret).Length);
        var uri = body["otpauth_uri"]!.GetValue<string>();
        Assert.StartsWith($"otpauth://totp/IronAuth:{username}?secret={secret}&issuer=IronAuth", uri, StringComparison.Ordinal);
        Assert.Contains("<svg", body["qr_svg"]!.GetValue<string>(), StringComparison.Ordinal);
        // Not on until confirmed: the password alone still signs in.
        Assert.Equal(HttpStatusCode.OK, (await LoginAsync(username, password)).StatusCode);

        await (await self.PostAsJsonAsync("api/auth/mfa/totp/confirm", new { code = Code(secret) == "000000" ? "111111" : "000000" }))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "invalid_code");
        var confirmed = await self.PostAsJsonAsync("api/auth/mfa/totp/confirm", new { code = Code(secret) });

        Assert.Equal(HttpStatusCode.OK, confirmed.StatusCode);
        var codes = (await confirmed.ReadJsonAsync())["recovery_codes"]!.AsArray().Select(c => c!.GetValue<string>()).ToList();
        Assert.Equal(10, codes.Distinct().Count());
        // On now: enrolling again needs turning it off first.
        await (await self.PostAsJsonAsync("api/auth/mfa/totp", new { current_password = password })).AssertProblemAsync(HttpStatusCode.Conflict, "mfa_already_enabled");
        var audit = await (await server.NewClient((await server.LoginAdminAsync()).Access).GetAsync($"api/users/{tokens.UserId}/audit?limit=200")).ReadJsonAsync();
        Assert.Single(audit["items"]!.AsArray(), e => e!["action"]!.GetValue<string>() == "mfa.totp_enrolment_refused");
    }

    [Fact]
    public async Task Password_alone_is_refused_a_code_completes_the_sign_in_and_neither_code_nor_token_works_twice()
    {
        var (username, password, userId, secret, recovery) = await EnrolledUserAsync();

        var mfaToken = await MfaTokenAsync(username, password);
        var code = Code(secret);
        var completed = await VerifyAsync(mfaToken, code);

        Assert.Equal(HttpStatusCode.OK, completed.StatusCode);
        var tokens = await completed.ReadJsonAsync();
        Assert.Equal(userId, tokens["user"]!["id"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await server.NewClient(tokens["access_token"]!.GetValue<string>()).GetAsync("api/auth/me")).StatusCode);
        // The mfa_token was spent.
        await (await VerifyAsync(mfaToken, Code(secret, 1))).AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_mfa_token");
        // The same code, still inside its window, is refused.
        await (await VerifyAsync(await MfaTokenAsync(username, password), code)).AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_code");
        // A recovery code works once.
        Assert.Equal(HttpStatusCode.OK, (await VerifyAsync(await MfaTokenAsync(username, password), recovery[3].ToUpperInvariant())).StatusCode);
        await (await VerifyAsync(await MfaTokenAsync(username, password), recovery[3])).AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_code");
        // The next step's code still works (the window allows one step of drift).
        Assert.Equal(HttpStatusCode.OK, (await VerifyAsync(await MfaTokenAsync(username, password), Code(secret, 1))).StatusCode);

        var admin = server.NewClient((await server.LoginAdminAsync()).Access);
        var audit = (await (await admin.GetAsync($"api/users/{userId}/audit")).ReadJsonAsync())["items"]!.AsArray()
            .Select(e => e!["action"]!.GetValue<string>()).ToList();
        Assert.Contains("mfa.totp_enabled", audit);
        Assert.Contains("mfa.recovery_code_used", audit);
        Assert.Contains("mfa.code_failed", audit);
        Assert.DoesNotContain(audit, a => a.Contains(secret, StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_secret_is_stored_encrypted_and_bound_to_its_user()
    {
        var (_, _, userId, secret, _) = await EnrolledUserAsync();
        var stored = await server.Services.GetRequiredService<IMfaStore>().FindTotpAsync(userId, default);

        Assert.NotNull(stored);
        Assert.StartsWith("v1.", stored.ProtectedSecret, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, stored.ProtectedSecret, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(Convert.ToBase64String(Rfc6238.Base32(secret)), stored.ProtectedSecret, StringComparison.Ordinal);
        var secrets = server.Services.GetRequiredService<TotpSecrets>();
        Assert.Equal(Rfc6238.Base32(secret), await secrets.UnprotectAsync(userId, stored.ProtectedSecret));
        // Copied onto another user's row it does not decrypt (the user id is the associated data).
        Assert.Null(await secrets.UnprotectAsync(userId + "x", stored.ProtectedSecret));
    }

    [Fact]
    public async Task One_code_presented_at_once_by_many_pending_sign_ins_completes_exactly_one()
    {
        var (username, password, _, secret, recovery) = await EnrolledUserAsync();
        // Every pending sign-in counts toward the lockout until a code clears it: this many need a higher limit.
        var lenientSettings = new Dictionary<string, string?> { ["IronAuth:Login:MaxFailures"] = "50" };
        await using var lenient = await TestServer.StartAsync(server.Store, lenientSettings, server.Time);
        await using var other = await TestServer.StartAsync(server.Store, lenientSettings, server.Time);
        var pending = new List<string>();
        for (var i = 0; i < 8; i++)
        {
            pending.Add(await MfaTokenAsync(username, password, lenient));
        }

        var code = Code(secret);
        var clients = new[] { lenient.Client, other.Client };
        var answers = await Task.WhenAll(pending.Select((token, i) =>
            clients[i % 2].PostAsJsonAsync("api/auth/mfa/verify", new { mfa_token = token, code })));

        Assert.Single(answers, a => a.StatusCode == HttpStatusCode.OK);
        Assert.All(answers.Where(a => a.StatusCode != HttpStatusCode.OK), a => Assert.Equal(HttpStatusCode.Unauthorized, a.StatusCode));
        // The same for a recovery code.
        pending.Clear();
        for (var i = 0; i < 4; i++)
        {
            pending.Add(await MfaTokenAsync(username, password, lenient));
        }

        var recovered = await Task.WhenAll(pending.Select((token, i) =>
            clients[i % 2].PostAsJsonAsync("api/auth/mfa/verify", new { mfa_token = token, code = recovery[0] })));
        Assert.Single(recovered, a => a.StatusCode == HttpStatusCode.OK);
    }

    [Fact]
    public async Task An_mfa_token_expires()
    {
        var (username, password, _, secret, _) = await EnrolledUserAsync();
        var mfaToken = await MfaTokenAsync(username, password);

        server.Time.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(1));

        await (await VerifyAsync(mfaToken, Code(secret))).AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_mfa_token");
    }

    [Fact]
    public async Task Wrong_codes_count_toward_the_lockout_even_though_the_password_is_right()
    {
        var (username, password, _, secret, _) = await EnrolledUserAsync();

        JsonNode? locked = null;
        for (var round = 0; round < 5 && locked is null; round++)
        {
            var login = await LoginAsync(username, password);
            if (login.StatusCode == HttpStatusCode.TooManyRequests)
            {
                locked = await login.AssertProblemAsync(HttpStatusCode.TooManyRequests, "account_locked");
                break;
            }

            var mfaToken = (await login.AssertProblemAsync(HttpStatusCode.Unauthorized, "mfa_required"))["mfa_token"]!.GetValue<string>();
            var wrong = await VerifyAsync(mfaToken, Code(secret) == "000000" ? "000001" : "000000");
            if (wrong.StatusCode == HttpStatusCode.TooManyRequests)
            {
                locked = await wrong.AssertProblemAsync(HttpStatusCode.TooManyRequests, "account_locked");
            }
            else
            {
                await wrong.AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_code");
            }
        }

        Assert.NotNull(locked);
        // Locked: the right password and then even the right code are refused until the lock ends.
        var during = await LoginAsync(username, password);
        Assert.Equal(HttpStatusCode.TooManyRequests, during.StatusCode);
        server.Time.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(HttpStatusCode.OK, (await VerifyAsync(await MfaTokenAsync(username, password), Code(secret))).StatusCode);
    }

    [Fact]
    public async Task Turning_it_off_needs_a_code_and_an_admin_can_reset_it()
    {
        var (username, password, userId, secret, _) = await EnrolledUserAsync();
        var session = await VerifyAsync(await MfaTokenAsync(username, password), Code(secret));
        var self = server.NewClient((await session.ReadJsonAsync())["access_token"]!.GetValue<string>());
        server.Time.Advance(TimeSpan.FromSeconds(30));

        var request = new HttpRequestMessage(HttpMethod.Delete, "api/auth/mfa/totp") { Content = JsonContent.Create(new { code = "12345" }) };
        await (await self.SendAsync(request)).AssertProblemAsync(HttpStatusCode.BadRequest, "invalid_code");
        request = new HttpRequestMessage(HttpMethod.Delete, "api/auth/mfa/totp") { Content = JsonContent.Create(new { code = Code(secret) }) };
        Assert.Equal(HttpStatusCode.NoContent, (await self.SendAsync(request)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await LoginAsync(username, password)).StatusCode);

        // On again, then reset by an admin (a lost authenticator).
        var setup = await (await self.PostAsJsonAsync("api/auth/mfa/totp", new { current_password = password })).ReadJsonAsync();
        var again = setup["secret"]!.GetValue<string>();
        Assert.Equal(HttpStatusCode.OK, (await self.PostAsJsonAsync("api/auth/mfa/totp/confirm", new { code = Code(again) })).StatusCode);
        await (await LoginAsync(username, password)).AssertProblemAsync(HttpStatusCode.Unauthorized, "mfa_required");
        await (await self.DeleteAsync($"api/users/{userId}/mfa")).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        var admin = server.NewClient((await server.LoginAdminAsync()).Access);

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"api/users/{userId}/mfa")).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await LoginAsync(username, password)).StatusCode);
        var audit = await (await admin.GetAsync($"api/users/{userId}/audit")).ReadJsonAsync();
        Assert.Contains(audit["items"]!.AsArray(), e => e!["action"]!.GetValue<string>() == "mfa.reset");
        Assert.Contains(audit["items"]!.AsArray(), e => e!["action"]!.GetValue<string>() == "mfa.totp_disabled");
    }

    [Fact]
    public async Task The_password_grant_of_a_two_factor_account_says_where_the_sign_in_can_finish()
    {
        var (username, password, _, _, _) = await EnrolledUserAsync();

        var grant = await server.Client.PostAsync("api/oauth/token", new FormUrlEncodedContent(
            [new("grant_type", "password"), new("username", username), new("password", password)]));

        Assert.Equal(HttpStatusCode.BadRequest, grant.StatusCode);
        var body = await grant.ReadJsonAsync();
        Assert.Equal("invalid_grant", body["error"]!.GetValue<string>());
        Assert.Contains("/api/auth/login", body["error_description"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Null(body["mfa_token"]);
    }

    [Fact]
    public async Task An_api_token_cannot_manage_two_factor()
    {
        var (_, _, tokens) = await server.CreateUserAsync("user");
        var created = await server.NewClient(tokens.Access).PostAsJsonAsync("api/tokens", new { name = "t-" + Guid.NewGuid().ToString("N")[..6] });
        var apiToken = (await created.ReadJsonAsync())["token"]!.GetValue<string>();

        await (await server.NewClient(apiToken).PostAsJsonAsync("api/auth/mfa/totp", new { current_password = "whatever-it-is" })).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task Malformed_requests_are_400_problems()
    {
        await (await server.Client.PostAsync("api/auth/mfa/verify", HttpAssertions.Json("""{"mfa_token": 1}""")))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await VerifyAsync("x", "123456")).AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_mfa_token");
    }
}

public sealed class SqliteMfaTests() : MfaTests(TestStore.Sqlite);

public sealed class TablesMfaTests() : MfaTests(TestStore.Tables);

/// <summary>The TOTP encryption key setting.</summary>
public sealed class MfaSettingsTests
{
    [Fact]
    public async Task A_configured_encryption_key_is_used_an_empty_one_is_unset_and_a_bad_one_refuses_to_start()
    {
        var key = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        await using (var server = await TestServer.StartAsync(settings: new Dictionary<string, string?> { ["IronAuth:Mfa:EncryptionKey"] = key }))
        {
            Assert.StartsWith("v1.cfg.", await server.Services.GetRequiredService<TotpSecrets>().ProtectAsync("u1", [1, 2, 3]), StringComparison.Ordinal);
        }

        await using (var server = await TestServer.StartAsync(settings: new Dictionary<string, string?> { ["IronAuth:Mfa:EncryptionKey"] = "" }))
        {
            Assert.DoesNotContain(".cfg.", await server.Services.GetRequiredService<TotpSecrets>().ProtectAsync("u1", [1, 2, 3]), StringComparison.Ordinal);
        }

        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() =>
            TestServer.StartAsync(settings: new Dictionary<string, string?> { ["IronAuth:Mfa:EncryptionKey"] = "c2hvcnQ=" }));
        Assert.Contains("IronAuth:Mfa:EncryptionKey", error.Message, StringComparison.Ordinal);
    }
}
