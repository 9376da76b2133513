using System.Net;
using System.Net.Http.Json;
using IronAuth.Tests.Support;
using Microsoft.Extensions.Options;

namespace IronAuth.Tests.Accounts;

/// <summary>Sign-up, emailed codes, verification and reset by email, end to end over a real SMTP server, on both stores.</summary>
public abstract class RegistrationTests(string store) : IAsyncLifetime
{
    private const string Password = "correct-horse-battery-staple-7";

    private SmtpInbox inbox = null!;
    private TestServer server = null!;

    public async Task InitializeAsync()
    {
        inbox = await SmtpInbox.StartAsync();
        server = await TestServer.StartAsync(store, Settings());
    }

    public async Task DisposeAsync()
    {
        await server.DisposeAsync();
        await inbox.DisposeAsync();
    }

    private Dictionary<string, string?> Settings(params (string Key, string Value)[] more)
    {
        var settings = inbox.Settings;
        settings["IronAuth:Registration:Enabled"] = "true";
        // One sender, so the outbox works in order: once a later message has arrived, an earlier request was handled.
        settings["IronAuth:Email:MaxConcurrentSends"] = "1";
        foreach (var (key, value) in more)
        {
            settings[key] = value;
        }

        return settings;
    }

    private static string NewAddress() => $"Person.{Guid.NewGuid():N}@Example.com";

    private Task<HttpResponseMessage> RegisterAsync(string email, string? username = null, HttpClient? client = null) =>
        (client ?? server.Client).PostAsJsonAsync("api/auth/register", new { email, password = Password, username, display_name = "Pat" });

    private Task<HttpResponseMessage> VerifyAsync(string email, string code, HttpClient? client = null) =>
        (client ?? server.Client).PostAsJsonAsync("api/auth/verify-email", new { email, code });

    private Task<HttpResponseMessage> LoginAsync(string username, string password = Password) =>
        server.Client.PostAsJsonAsync("api/auth/login", new { username, password });

    private async Task<string> RegisterAndVerifyAsync(string email)
    {
        Assert.Equal(HttpStatusCode.Created, (await RegisterAsync(email)).StatusCode);
        var code = SmtpInbox.CodeIn(await inbox.NextAsync(email));
        Assert.Equal(HttpStatusCode.NoContent, (await VerifyAsync(email, code)).StatusCode);
        return code;
    }

    [Fact]
    public async Task Sign_up_then_the_emailed_code_verifies_and_the_account_signs_in_by_email()
    {
        var email = NewAddress();

        var registered = await RegisterAsync(email);

        Assert.Equal(HttpStatusCode.Created, registered.StatusCode);
        var user = await registered.ReadJsonAsync();
        Assert.Equal("user", user["role"]!.GetValue<string>());
        Assert.False(user["email_verified"]!.GetValue<bool>());
        Assert.Null(user["password_hash"]);
        // Until verified, the right password still does not sign in.
        await (await LoginAsync(email)).AssertProblemAsync(HttpStatusCode.Forbidden, "email_unverified");

        var mail = await inbox.NextAsync(email);
        Assert.Contains("verification code", mail.Subject, StringComparison.Ordinal);
        var code = SmtpInbox.CodeIn(mail);
        Assert.Equal(HttpStatusCode.NoContent, (await VerifyAsync(email.ToUpperInvariant(), code)).StatusCode);

        var signedIn = await LoginAsync(email.ToLowerInvariant());
        Assert.Equal(HttpStatusCode.OK, signedIn.StatusCode);
        var body = await signedIn.ReadJsonAsync();
        Assert.True(body["user"]!["email_verified"]!.GetValue<bool>());
        Assert.Equal(user["id"]!.GetValue<string>(), body["user"]!["id"]!.GetValue<string>());
        // The username works too, and so does the OAuth password grant with the email.
        Assert.Equal(HttpStatusCode.OK, (await LoginAsync(user["username"]!.GetValue<string>())).StatusCode);
        var grant = await server.Client.PostAsync("api/oauth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password",
            ["username"] = email,
            ["password"] = Password,
        }));
        Assert.Equal(HttpStatusCode.OK, grant.StatusCode);
        // The code was spent.
        await (await VerifyAsync(email, code)).AssertProblemAsync(HttpStatusCode.BadRequest, "invalid_code");
    }

    [Fact]
    public async Task Emails_are_unique_case_insensitively_for_sign_up_admin_creation_and_profile_changes()
    {
        var email = NewAddress();
        Assert.Equal(HttpStatusCode.Created, (await RegisterAsync(email)).StatusCode);

        await (await RegisterAsync(email.ToUpperInvariant())).AssertProblemAsync(HttpStatusCode.Conflict, "email_taken");
        var admin = server.NewClient((await server.LoginAdminAsync()).Access);
        var created = await admin.PostAsJsonAsync(
            "api/users", new { username = "u" + Guid.NewGuid().ToString("N")[..10], password = Password, email = email.ToLowerInvariant(), role = "user" });
        await created.AssertProblemAsync(HttpStatusCode.Conflict, "email_taken");

        var (_, _, other) = await server.CreateUserAsync("user");
        var patched = await admin.PatchAsJsonAsync($"api/users/{other.UserId}", new { email = email.ToLowerInvariant() });
        await patched.AssertProblemAsync(HttpStatusCode.Conflict, "email_taken");
        // A free address is fine, and the old one is then free again for someone else.
        var free = NewAddress();
        Assert.Equal(HttpStatusCode.OK, (await admin.PatchAsJsonAsync($"api/users/{other.UserId}", new { email = free })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.PatchAsJsonAsync($"api/users/{other.UserId}", new { email = NewAddress() })).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await RegisterAsync(free)).StatusCode);
    }

    [Fact]
    public async Task Concurrent_sign_ups_with_one_email_create_one_account()
    {
        var email = NewAddress();

        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            RegisterAsync(i % 2 == 0 ? email : email.ToUpperInvariant(), username: "racer" + i + Guid.NewGuid().ToString("N")[..6])));

        Assert.Single(answers, a => a.StatusCode == HttpStatusCode.Created);
        foreach (var refused in answers.Where(a => a.StatusCode != HttpStatusCode.Created))
        {
            await refused.AssertProblemAsync(HttpStatusCode.Conflict, "email_taken");
        }
    }

    [Fact]
    public async Task Wrong_codes_count_and_after_the_limit_even_the_right_code_is_dead()
    {
        var email = NewAddress();
        Assert.Equal(HttpStatusCode.Created, (await RegisterAsync(email)).StatusCode);
        var code = SmtpInbox.CodeIn(await inbox.NextAsync(email));
        var wrong = code == "000000" ? "000001" : "000000";

        for (var i = 0; i < 5; i++)
        {
            await (await VerifyAsync(email, wrong)).AssertProblemAsync(HttpStatusCode.BadRequest, "invalid_code");
        }

        await (await VerifyAsync(email, code)).AssertProblemAsync(HttpStatusCode.BadRequest, "invalid_code");
        await (await LoginAsync(email)).AssertProblemAsync(HttpStatusCode.Forbidden, "email_unverified");

        // A new code works.
        Assert.Equal(HttpStatusCode.Accepted, (await server.Client.PostAsJsonAsync("api/auth/verify-email/resend", new { email })).StatusCode);
        var fresh = SmtpInbox.CodeIn(await inbox.NextAsync(email));
        Assert.Equal(HttpStatusCode.NoContent, (await VerifyAsync(email, fresh)).StatusCode);
    }

    [Fact]
    public async Task A_code_expires_after_its_lifetime()
    {
        var email = NewAddress();
        Assert.Equal(HttpStatusCode.Created, (await RegisterAsync(email)).StatusCode);
        var code = SmtpInbox.CodeIn(await inbox.NextAsync(email));

        server.Time.Advance(TimeSpan.FromMinutes(10) + TimeSpan.FromSeconds(1));

        await (await VerifyAsync(email, code)).AssertProblemAsync(HttpStatusCode.BadRequest, "invalid_code");
    }

    [Fact]
    public async Task A_code_works_once_when_many_present_it_at_once_through_two_servers()
    {
        await using var second = await TestServer.StartAsync(server.Store, Settings(), server.Time);
        var email = NewAddress();
        Assert.Equal(HttpStatusCode.Created, (await RegisterAsync(email)).StatusCode);
        var code = SmtpInbox.CodeIn(await inbox.NextAsync(email));
        var clients = new[] { server.NewClient(), second.NewClient() };

        var answers = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => VerifyAsync(email, code, clients[i % 2])));

        Assert.Single(answers, a => a.StatusCode == HttpStatusCode.NoContent);
        Assert.All(answers.Where(a => a.StatusCode != HttpStatusCode.NoContent), a => Assert.Equal(HttpStatusCode.BadRequest, a.StatusCode));
        var admin = server.NewClient((await server.LoginAdminAsync()).Access);
        var userId = (await (await LoginAsync(email)).ReadJsonAsync())["user"]!["id"]!.GetValue<string>();
        var audit = await (await admin.GetAsync($"api/users/{userId}/audit")).ReadJsonAsync();
        Assert.Single(audit["items"]!.AsArray(), e => e!["action"]!.GetValue<string>() == "user.email_verified");
    }

    [Fact]
    public async Task Resend_and_reset_request_answer_alike_for_unknown_and_known_addresses_and_mail_only_the_right_ones()
    {
        var verified = NewAddress();
        await RegisterAndVerifyAsync(verified);
        var unverified = NewAddress();
        Assert.Equal(HttpStatusCode.Created, (await RegisterAsync(unverified)).StatusCode);
        SmtpInbox.CodeIn(await inbox.NextAsync(unverified));
        var unknown = NewAddress();

        var answers = new List<HttpResponseMessage>();
        foreach (var email in new[] { unknown, verified, unverified })
        {
            answers.Add(await server.Client.PostAsJsonAsync("api/auth/verify-email/resend", new { email }));
            answers.Add(await server.Client.PostAsJsonAsync("api/auth/password-reset/request", new { email }));
        }

        foreach (var answer in answers)
        {
            Assert.Equal(HttpStatusCode.Accepted, answer.StatusCode);
            Assert.Equal("", await answer.Content.ReadAsStringAsync());
            Assert.Equal(answers[0].Headers.Select(h => h.Key).Order(), answer.Headers.Select(h => h.Key).Order());
        }

        // In queue order: the verified address gets only a reset, the unverified one only a new code.
        var reset = await inbox.NextAsync(verified);
        Assert.Contains("Reset your", reset.Subject, StringComparison.Ordinal);
        var code = await inbox.NextAsync(unverified);
        Assert.Contains("verification code", code.Subject, StringComparison.Ordinal);
        Assert.False(inbox.HasMessageFor(unknown));
        Assert.False(inbox.HasMessageFor(verified));
        Assert.False(inbox.HasMessageFor(unverified));
    }

    [Fact]
    public async Task Reset_by_email_sets_a_new_password_and_the_old_one_stops_working()
    {
        var email = NewAddress();
        await RegisterAndVerifyAsync(email);
        var before = await (await LoginAsync(email)).ReadJsonAsync();

        Assert.Equal(HttpStatusCode.Accepted, (await server.Client.PostAsJsonAsync("api/auth/password-reset/request", new { email })).StatusCode);
        var token = SmtpInbox.ResetTokenIn(await inbox.NextAsync(email));
        var confirmed = await server.Client.PostAsJsonAsync(
            "api/auth/password-reset/confirm", new { reset_token = token, new_password = "brand-new-lighthouse-keeper-42" });

        Assert.Equal(HttpStatusCode.NoContent, confirmed.StatusCode);
        await (await LoginAsync(email)).AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_credentials");
        Assert.Equal(HttpStatusCode.OK, (await LoginAsync(email, "brand-new-lighthouse-keeper-42")).StatusCode);
        // The session from before the reset has ended.
        var refresh = await server.Client.PostAsJsonAsync("api/auth/refresh", new { refresh_token = before["refresh_token"]!.GetValue<string>() });
        Assert.Equal(HttpStatusCode.Unauthorized, refresh.StatusCode);
    }

    [Fact]
    public async Task Past_the_per_address_limit_resend_still_answers_the_same_202_but_mails_nothing_until_the_bucket_refills()
    {
        var email = NewAddress();
        Assert.Equal(HttpStatusCode.Created, (await RegisterAsync(email)).StatusCode);
        SmtpInbox.CodeIn(await inbox.NextAsync(email));
        var admitted = new List<HttpResponseMessage>();
        for (var i = 0; i < 5; i++)
        {
            admitted.Add(await server.Client.PostAsJsonAsync("api/auth/verify-email/resend", new { email }));
            SmtpInbox.CodeIn(await inbox.NextAsync(email));
        }

        // The sixth (another spelling of the same address) and a reset request past their limits.
        var limited = await server.Client.PostAsJsonAsync("api/auth/verify-email/resend", new { email = email.ToLowerInvariant() });
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.Accepted, (await server.Client.PostAsJsonAsync("api/auth/password-reset/request", new { email })).StatusCode);
        }

        var limitedReset = await server.Client.PostAsJsonAsync("api/auth/password-reset/request", new { email });

        foreach (var answer in new[] { limited, limitedReset })
        {
            Assert.Equal(HttpStatusCode.Accepted, answer.StatusCode);
            Assert.Equal("", await answer.Content.ReadAsStringAsync());
            Assert.Null(answer.Headers.RetryAfter);
            Assert.Equal(admitted[0].Headers.Select(h => h.Key).Order(), answer.Headers.Select(h => h.Key).Order());
            Assert.Equal(admitted[0].Content.Headers.Select(h => h.Key).Order(), answer.Content.Headers.Select(h => h.Key).Order());
        }

        // One sender works the outbox in order: once a later message has arrived, the limited request was handled,
        // and it mailed nothing (an unverified address gets no reset mail anyway).
        var other = NewAddress();
        Assert.Equal(HttpStatusCode.Created, (await RegisterAsync(other)).StatusCode);
        SmtpInbox.CodeIn(await inbox.NextAsync(other));
        Assert.False(inbox.HasMessageFor(email));

        server.Time.Advance(TimeSpan.FromMinutes(13));

        Assert.Equal(HttpStatusCode.Accepted, (await server.Client.PostAsJsonAsync("api/auth/verify-email/resend", new { email })).StatusCode);
        Assert.Contains("verification code", (await inbox.NextAsync(email)).Subject, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_input_is_a_400_problem()
    {
        await (await server.Client.PostAsJsonAsync("api/auth/register", new { email = "not-an-address", password = Password }))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await server.Client.PostAsJsonAsync("api/auth/register", new { email = NewAddress(), password = "short" }))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "weak_password");
        await (await RegisterAsync(NewAddress(), username: "someone@else.example"))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await server.Client.PostAsJsonAsync("api/auth/verify-email/resend", new { email = "nope" }))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await server.Client.PostAsync("api/auth/verify-email", HttpAssertions.Json("""{"email": 5}""")))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await VerifyAsync(NewAddress(), "12ab56")).AssertProblemAsync(HttpStatusCode.BadRequest, "invalid_code");
    }

    [Fact]
    public async Task An_admin_created_user_with_an_email_signs_in_unverified_and_can_verify_it()
    {
        var email = NewAddress();
        var admin = server.NewClient((await server.LoginAdminAsync()).Access);
        var username = "u" + Guid.NewGuid().ToString("N")[..10];
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("api/users", new { username, password = Password, email, role = "user" })).StatusCode);

        var signedIn = await LoginAsync(email);
        Assert.Equal(HttpStatusCode.OK, signedIn.StatusCode);
        Assert.False((await signedIn.ReadJsonAsync())["user"]!["email_verified"]!.GetValue<bool>());

        // An unverified address gets no reset mail, but can be verified.
        Assert.Equal(HttpStatusCode.Accepted, (await server.Client.PostAsJsonAsync("api/auth/password-reset/request", new { email })).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await server.Client.PostAsJsonAsync("api/auth/verify-email/resend", new { email })).StatusCode);
        var mail = await inbox.NextAsync(email);
        Assert.Contains("verification code", mail.Subject, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NoContent, (await VerifyAsync(email, SmtpInbox.CodeIn(mail))).StatusCode);
        Assert.True((await (await LoginAsync(username)).ReadJsonAsync())["user"]!["email_verified"]!.GetValue<bool>());
    }
}

public sealed class SqliteRegistrationTests() : RegistrationTests(TestStore.Sqlite);

public sealed class TablesRegistrationTests() : RegistrationTests(TestStore.Tables);

/// <summary>Registration's switch and its start-up check.</summary>
public sealed class RegistrationSettingsTests
{
    [Fact]
    public async Task A_mail_server_that_never_answers_does_not_hold_up_sign_up()
    {
        // Accepts connections and never says a word: a send would wait out its whole SendTimeout.
        using var silent = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        await using var server = await TestServer.StartAsync(settings: new Dictionary<string, string?>
        {
            ["IronAuth:Registration:Enabled"] = "true",
            ["IronAuth:Email:Smtp:Host"] = "127.0.0.1",
            ["IronAuth:Email:Smtp:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["IronAuth:Email:Smtp:Security"] = "None",
            ["IronAuth:Email:From"] = SmtpInbox.From,
            ["IronAuth:Email:SendTimeout"] = "00:02:00",
            // The stuck sends are abandoned (and logged as unsent) when the host's shutdown time is up.
            ["shutdownTimeoutSeconds"] = "2",
        });
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var registered = await server.Client.PostAsJsonAsync(
            "api/auth/register", new { email = $"slow.{Guid.NewGuid():N}@example.com", password = "correct-horse-battery-staple-7" });
        var resent = await server.Client.PostAsJsonAsync("api/auth/verify-email/resend", new { email = $"slow.{Guid.NewGuid():N}@example.com" });

        Assert.Equal(HttpStatusCode.Created, registered.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, resent.StatusCode);
        // Far below the two-minute send timeout the requests would have waited out had they sent themselves.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"Took {clock.Elapsed}.");
    }

    [Fact]
    public async Task Registration_is_off_by_default_and_its_routes_answer_404()
    {
        await using var server = await TestServer.StartAsync();

        var answer = await server.Client.PostAsJsonAsync("api/auth/register", new { email = "a@example.com", password = "correct-horse-battery-staple-7" });

        await answer.AssertProblemAsync(HttpStatusCode.NotFound, "not_found");
        await (await server.Client.PostAsJsonAsync("api/auth/password-reset/request", new { email = "a@example.com" }))
            .AssertProblemAsync(HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Registration_without_an_email_sender_refuses_to_start_naming_the_settings()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => TestServer.StartAsync(settings: new Dictionary<string, string?>
        {
            ["IronAuth:Registration:Enabled"] = "true",
        }));

        Assert.Contains("IronAuth:Email:Smtp:Host", error.Message, StringComparison.Ordinal);
        Assert.Contains("IronAuth:Email:PickupDirectory", error.Message, StringComparison.Ordinal);
    }
}
