using System.Net;
using System.Net.Http.Json;
using IronAuth.Tests.Accounts;
using IronAuth.Tests.Support;
using MimeKit;
using Xunit.Abstractions;

namespace IronAuth.Tests.Functions;

/// <summary>
/// People's accounts (issue 16) through the real Functions worker: sign-up with an emailed code, and TOTP two-factor
/// sign-in. The worker is another process on the real clock, so mail leaves it as files in a pickup directory (settings
/// reach it as environment variables, as app settings do) and TOTP codes are computed by <see cref="Rfc6238"/> for the
/// real time; the flows that move a fake clock stay in RegistrationTests and MfaTests on the server.
/// </summary>
public abstract class FunctionsAccountTests(string store, ITestOutputHelper output) : IAsyncLifetime
{
    private const string Password = "correct-horse-battery-staple-7";

    private readonly TempDirectory pickup = new();
    private FunctionsApp app = null!;

    public async Task InitializeAsync() =>
        app = await FunctionsApp.StartAsync(store, new Dictionary<string, string?>
        {
            ["IronAuth:Registration:Enabled"] = "true",
            ["IronAuth:Email:PickupDirectory"] = pickup.Path,
            ["IronAuth:Email:From"] = SmtpInbox.From,
        }, output);

    public async Task DisposeAsync()
    {
        await app.DisposeAsync();
        pickup.Dispose();
    }

    private static string NewAddress() => $"Person.{Guid.NewGuid():N}@Example.com";

    /// <summary>The first .eml in the pickup directory addressed to <paramref name="to"/>, waited for with a deadline.</summary>
    private async Task<MimeMessage> MailToAsync(string to)
    {
        var deadline = DateTimeOffset.UtcNow + SmtpInbox.Deadline;
        while (true)
        {
            // The sender writes a .tmp and renames it, so every .eml seen is whole.
            foreach (var file in Directory.EnumerateFiles(pickup.Path, "*.eml"))
            {
                var message = await MimeMessage.LoadAsync(file);
                if (message.To.Mailboxes.Any(m => string.Equals(m.Address, to, StringComparison.OrdinalIgnoreCase)))
                {
                    return message;
                }
            }

            Assert.True(DateTimeOffset.UtcNow < deadline, $"No mail to {to} in the pickup directory within {SmtpInbox.Deadline}.");
            await Task.Delay(50);
        }
    }

    private static string Code(string secret, long step) => Rfc6238.Code(Rfc6238.Base32(secret), step);

    private static long Now => Rfc6238.Step(TimeProvider.System.GetUtcNow());

    [Fact]
    public async Task Sign_up_the_emailed_code_verifies_and_the_account_signs_in_by_email_through_the_worker()
    {
        var email = NewAddress();

        var registered = await app.Client.PostAsJsonAsync("api/auth/register", new { email, password = Password });

        Assert.Equal(HttpStatusCode.Created, registered.StatusCode);
        Assert.False((await registered.ReadJsonAsync())["email_verified"]!.GetValue<bool>());
        await (await app.Client.PostAsJsonAsync("api/auth/login", new { username = email, password = Password }))
            .AssertProblemAsync(HttpStatusCode.Forbidden, "email_unverified");
        var mail = await MailToAsync(email);
        Assert.Contains("verification code", mail.Subject, StringComparison.Ordinal);
        var verified = await app.Client.PostAsJsonAsync("api/auth/verify-email", new { email, code = SmtpInbox.CodeIn(mail) });
        Assert.Equal(HttpStatusCode.NoContent, verified.StatusCode);

        var signedIn = await app.Client.PostAsJsonAsync("api/auth/login", new { username = email.ToUpperInvariant(), password = Password });

        Assert.Equal(HttpStatusCode.OK, signedIn.StatusCode);
        Assert.True((await signedIn.ReadJsonAsync())["user"]!["email_verified"]!.GetValue<bool>());
        Assert.Equal(["Register", "Login", "VerifyEmail", "Login"], app.Host.Invocations.Select(i => i.FunctionName).TakeLast(4));
        Assert.All(app.Host.Invocations, i => Assert.True(i.Succeeded, i.Error));
    }

    [Fact]
    public async Task Totp_enrolment_then_the_password_alone_is_refused_and_a_code_completes_the_sign_in_through_the_worker()
    {
        var (username, password, tokens) = await app.CreateUserAsync("user");
        var self = app.NewClient(tokens.Access);
        var setup = await self.PostAsJsonAsync("api/auth/mfa/totp", new { current_password = password });
        Assert.Equal(HttpStatusCode.OK, setup.StatusCode);
        var secret = (await setup.ReadJsonAsync())["secret"]!.GetValue<string>();
        var confirmedStep = Now;
        var confirmed = await self.PostAsJsonAsync("api/auth/mfa/totp/confirm", new { code = Code(secret, confirmedStep) });
        Assert.Equal(HttpStatusCode.OK, confirmed.StatusCode);
        Assert.Equal(10, (await confirmed.ReadJsonAsync())["recovery_codes"]!.AsArray().Count);

        var login = await app.Client.PostAsJsonAsync("api/auth/login", new { username, password });
        var mfaToken = (await login.AssertProblemAsync(HttpStatusCode.Unauthorized, "mfa_required"))["mfa_token"]!.GetValue<string>();
        // The confirming step is spent: the next code is one of a later step, which the server's window (one step of
        // drift) accepts even before its own clock gets there.
        var step = Math.Max(Now, confirmedStep + 1);
        var completed = await app.Client.PostAsJsonAsync("api/auth/mfa/verify", new { mfa_token = mfaToken, code = Code(secret, step) });

        Assert.Equal(HttpStatusCode.OK, completed.StatusCode);
        var body = await completed.ReadJsonAsync();
        Assert.Equal(tokens.UserId, body["user"]!["id"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await app.NewClient(body["access_token"]!.GetValue<string>()).GetAsync("api/auth/me")).StatusCode);
        // Neither the mfa_token nor the code works twice.
        await (await app.Client.PostAsJsonAsync("api/auth/mfa/verify", new { mfa_token = mfaToken, code = Code(secret, step) }))
            .AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_mfa_token");
        var again = await app.Client.PostAsJsonAsync("api/auth/login", new { username, password });
        var secondToken = (await again.AssertProblemAsync(HttpStatusCode.Unauthorized, "mfa_required"))["mfa_token"]!.GetValue<string>();
        await (await app.Client.PostAsJsonAsync("api/auth/mfa/verify", new { mfa_token = secondToken, code = Code(secret, step) }))
            .AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_code");
        Assert.Contains(app.Host.Invocations, i => i.FunctionName == "ConfirmTotp" && i.Succeeded);
        Assert.Contains(app.Host.Invocations, i => i.FunctionName == "VerifyMfa" && i.Succeeded);
    }
}

public sealed class SqliteFunctionsAccountTests(ITestOutputHelper output) : FunctionsAccountTests(TestStore.Sqlite, output);

public sealed class TablesFunctionsAccountTests(ITestOutputHelper output) : FunctionsAccountTests(TestStore.Tables, output);
