using IronAuth.Core.Email;
using IronAuth.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using MimeKit;

namespace IronAuth.Tests.Accounts;

/// <summary>The email port, its SMTP and pickup-directory senders, the templates and the outbox, against a real SMTP server.</summary>
public sealed class EmailTests : IAsyncLifetime
{
    private SmtpInbox inbox = null!;

    public async Task InitializeAsync() => inbox = await SmtpInbox.StartAsync();

    public async Task DisposeAsync() => await inbox.DisposeAsync();

    private static ServiceProvider Services(IDictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging();
        services.AddSingleton(TimeProvider.System);
        services.AddIronAuthEmail();
        return services.BuildServiceProvider();
    }

    private static string NewAddress() => $"user-{Guid.NewGuid():N}@example.com";

    [Fact]
    public async Task The_outbox_delivers_text_and_html_bodies_over_smtp_with_the_service_name()
    {
        var settings = inbox.Settings;
        settings["IronAuth:Email:ServiceName"] = "Acme Login";
        await using var services = Services(settings);
        var outbox = services.GetRequiredService<EmailOutbox>();
        await outbox.StartAsync(default);
        var to = NewAddress();

        var queued = outbox.TryEnqueue(services.GetRequiredService<EmailTemplates>().Render(
            EmailTemplates.VerifyEmail, to, ("code", "042917"), ("expires_minutes", "10")));

        Assert.True(queued);
        var message = await inbox.NextAsync(to);
        Assert.Equal("Your Acme Login verification code is 042917", message.Subject);
        Assert.Equal("no-reply@ironauth.test", message.From.Mailboxes.Single().Address);
        Assert.Equal("042917", SmtpInbox.CodeIn(message));
        Assert.Contains("expires in 10 minutes", message.TextBody, StringComparison.Ordinal);
        Assert.Contains("<strong>042917</strong>", message.HtmlBody, StringComparison.Ordinal);
        Assert.Contains("Acme Login", message.HtmlBody, StringComparison.Ordinal);
        await outbox.StopAsync(default);
        Assert.Equal(0, outbox.Pending);
    }

    [Fact]
    public async Task A_refused_delivery_is_retried_until_the_server_takes_it()
    {
        await using var services = Services(inbox.Settings);
        var outbox = services.GetRequiredService<EmailOutbox>();
        await outbox.StartAsync(default);
        inbox.RefuseNext(2);
        var to = NewAddress();

        Assert.True(outbox.TryEnqueue(new EmailMessage(to, "test", "Retried", "body", "<p>body</p>")));

        var message = await inbox.NextAsync(to);
        Assert.Equal("Retried", message.Subject);
        Assert.Equal(3, inbox.Deliveries);
        await outbox.StopAsync(default);
    }

    [Fact]
    public async Task A_message_the_server_keeps_refusing_is_given_up_after_the_attempt_limit_and_not_sent_again()
    {
        var settings = inbox.Settings;
        settings["IronAuth:Email:MaxSendAttempts"] = "3";
        await using var services = Services(settings);
        var outbox = services.GetRequiredService<EmailOutbox>();
        await outbox.StartAsync(default);
        inbox.RefuseNext(3);
        var doomed = NewAddress();
        var after = NewAddress();

        Assert.True(outbox.TryEnqueue(new EmailMessage(doomed, "test", "Doomed", "body", "<p>body</p>")));
        await outbox.StopAsync(default); // Drains the queue: the doomed message has used its three attempts.

        Assert.Equal(3, inbox.Deliveries);
        Assert.False(inbox.HasMessageFor(doomed));
        Assert.Equal(0, outbox.Pending);
        // Once stopping, the outbox takes nothing more (the caller is told and answers 503).
        Assert.False(outbox.TryEnqueue(new EmailMessage(after, "test", "Late", "body", "<p>body</p>")));
    }

    [Fact]
    public async Task Smtp_authenticates_with_the_configured_username_and_password()
    {
        await using var guarded = await SmtpInbox.StartAsync(("mailer", "s3cret-relay-pass"));
        var right = guarded.Settings;
        right["IronAuth:Email:Smtp:Username"] = "mailer";
        right["IronAuth:Email:Smtp:Password"] = "s3cret-relay-pass";
        var wrong = guarded.Settings;
        wrong["IronAuth:Email:Smtp:Username"] = "mailer";
        wrong["IronAuth:Email:Smtp:Password"] = "not-the-pass";
        wrong["IronAuth:Email:MaxSendAttempts"] = "2";
        await using var withRight = Services(right);
        await using var withWrong = Services(wrong);
        var refusedTo = NewAddress();
        var acceptedTo = NewAddress();

        var refusing = withWrong.GetRequiredService<EmailOutbox>();
        await refusing.StartAsync(default);
        Assert.True(refusing.TryEnqueue(new EmailMessage(refusedTo, "test", "Refused", "body", "<p>body</p>")));
        await refusing.StopAsync(default); // Drains: both attempts failed at AUTH.
        var accepting = withRight.GetRequiredService<EmailOutbox>();
        await accepting.StartAsync(default);
        Assert.True(accepting.TryEnqueue(new EmailMessage(acceptedTo, "test", "Accepted", "body", "<p>body</p>")));

        Assert.Equal("Accepted", (await guarded.NextAsync(acceptedTo)).Subject);
        Assert.False(guarded.HasMessageFor(refusedTo));
        Assert.Equal(1, guarded.Deliveries);
        await accepting.StopAsync(default);
    }

    [Fact]
    public async Task A_full_queue_refuses_instead_of_blocking()
    {
        var settings = inbox.Settings;
        settings["IronAuth:Email:QueueCapacity"] = "2";
        await using var services = Services(settings);
        // Not started: nothing drains the queue, so the third message finds it full.
        var outbox = services.GetRequiredService<EmailOutbox>();

        var accepted = Enumerable.Range(0, 3).Select(_ => outbox.TryEnqueue(new EmailMessage(NewAddress(), "test", "s", "t", "h"))).ToList();

        Assert.Equal([true, true, false], accepted);
        Assert.Equal(2, outbox.Pending);
    }

    [Fact]
    public async Task The_pickup_directory_sender_writes_a_complete_eml_file()
    {
        using var directory = new TempDirectory();
        var pickup = Path.Combine(directory.Path, "mail");
        await using var services = Services(new Dictionary<string, string?>
        {
            ["IronAuth:Email:PickupDirectory"] = pickup,
            ["IronAuth:Email:From"] = SmtpInbox.From,
        });
        var sender = services.GetRequiredService<IEmailSender>();
        Assert.IsType<PickupDirectoryEmailSender>(sender);
        var to = NewAddress();

        await sender.SendAsync(new EmailMessage(to, "test", "Picked up", "plain body", "<p>html body</p>"), default);

        var file = Assert.Single(Directory.GetFiles(pickup));
        Assert.EndsWith(".eml", file, StringComparison.Ordinal);
        var message = await MimeMessage.LoadAsync(file);
        Assert.Equal("Picked up", message.Subject);
        Assert.Equal(to, message.To.Mailboxes.Single().Address);
        Assert.Contains("plain body", message.TextBody, StringComparison.Ordinal);
        Assert.Contains("<p>html body</p>", message.HtmlBody, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Deployer_templates_replace_the_built_in_ones_and_html_values_are_encoded()
    {
        using var directory = new TempDirectory();
        await File.WriteAllTextAsync(Path.Combine(directory.Path, "verify-email.txt"), "Subject: {{service_name}} code\n\nYour code: {{code}}\n");
        await File.WriteAllTextAsync(Path.Combine(directory.Path, "verify-email.html"), "<b>{{service_name}}</b> {{code}}");
        await using var services = Services(new Dictionary<string, string?>
        {
            ["IronAuth:Email:TemplateDirectory"] = directory.Path,
            ["IronAuth:Email:ServiceName"] = "A&B <Login>",
        });

        var message = services.GetRequiredService<EmailTemplates>().Render(EmailTemplates.VerifyEmail, "x@example.com", ("code", "123456"));

        Assert.Equal("A&B <Login> code", message.Subject);
        Assert.Equal("Your code: 123456\n", message.TextBody);
        Assert.Equal("<b>A&amp;B &lt;Login&gt;</b> 123456", message.HtmlBody);
        // The other template was not overridden: still the built-in one.
        var reset = services.GetRequiredService<EmailTemplates>().Render(EmailTemplates.PasswordReset, "x@example.com", ("reset_token", "t"), ("expires_minutes", "30"));
        Assert.Equal("Reset your A&B <Login> password", reset.Subject);
    }

    [Theory]
    [InlineData("IronAuth:Email:Smtp:Port", "0", "IronAuth:Email:Smtp:Port")]
    [InlineData("IronAuth:Email:From", "not an address", "IronAuth:Email:From")]
    [InlineData("IronAuth:Email:Smtp:Username", "someone", "IronAuth:Email:Smtp:Password")]
    [InlineData("IronAuth:Email:SendTimeout", "00:30:00", "IronAuth:Email:SendTimeout")]
    public async Task Bad_email_settings_are_refused_naming_the_setting(string key, string value, string named)
    {
        var settings = inbox.Settings;
        settings[key] = value;
        await using var services = Services(settings);

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<EmailOptions>>().Value);

        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }
}
