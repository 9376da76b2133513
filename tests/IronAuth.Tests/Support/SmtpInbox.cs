using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using MimeKit;
using SmtpServer;
using SmtpServer.Protocol;
using SmtpServer.Storage;

namespace IronAuth.Tests.Support;

/// <summary>
/// A real SMTP server (the SmtpServer library) on a free loopback port in this process, keeping what it receives per
/// recipient. Tests wait for a message with a deadline (<see cref="NextAsync"/>) instead of sleeping.
/// </summary>
public sealed partial class SmtpInbox : IAsyncDisposable
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private readonly ConcurrentDictionary<string, Channel<MimeMessage>> mailboxes = new(StringComparer.OrdinalIgnoreCase);
    private readonly CancellationTokenSource stop = new();
    private SmtpServer.SmtpServer server = null!;
    private Task running = Task.CompletedTask;
    private int refuse;
    private int deliveries;

    public int Port { get; private set; }

    /// <summary>Every DATA the server was handed, refused or not.</summary>
    public int Deliveries => Volatile.Read(ref deliveries);

    public const string From = "IronAuth Tests <no-reply@ironauth.test>";

    /// <summary>The settings that point IronAuth at this server.</summary>
    public Dictionary<string, string?> Settings => new()
    {
        ["IronAuth:Email:Smtp:Host"] = "127.0.0.1",
        ["IronAuth:Email:Smtp:Port"] = Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["IronAuth:Email:Smtp:Security"] = "None",
        ["IronAuth:Email:From"] = From,
        ["IronAuth:Email:RetryDelay"] = "00:00:00.050",
    };

    /// <summary>Starts the server; with <paramref name="credentials"/>, it takes mail only after AUTH with them.</summary>
    public static async Task<SmtpInbox> StartAsync((string User, string Password)? credentials = null)
    {
        var inbox = new SmtpInbox { Port = Azurite.FreePort() };
        var options = new SmtpServerOptionsBuilder()
            .ServerName("smtp.ironauth.test")
            .Endpoint(b => b.Endpoint(new IPEndPoint(IPAddress.Loopback, inbox.Port))
                // Plain text on loopback only, as the tests run it; a real relay would offer STARTTLS.
                .AuthenticationRequired(credentials is not null).AllowUnsecureAuthentication(credentials is not null))
            .Build();
        var services = new SmtpServer.ComponentModel.ServiceProvider();
        services.Add(new Store(inbox));
        if (credentials is { } expected)
        {
            services.Add(new SmtpServer.Authentication.DelegatingUserAuthenticator((user, password) => (user, password) == expected));
        }

        inbox.server = new SmtpServer.SmtpServer(options, services);
        inbox.running = inbox.server.StartAsync(inbox.stop.Token);
        await inbox.WaitUntilListeningAsync();
        return inbox;
    }

    /// <summary>The next <paramref name="count"/> deliveries are refused with a transient 451, as a struggling server does.</summary>
    public void RefuseNext(int count) => Volatile.Write(ref refuse, count);

    /// <summary>The next message to <paramref name="to"/>, or a failure once the deadline passes.</summary>
    public async Task<MimeMessage> NextAsync(string to)
    {
        using var deadline = new CancellationTokenSource(Deadline);
        try
        {
            return await Mailbox(to).Reader.ReadAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"No message reached {to} within {Deadline.TotalSeconds} s.");
        }
    }

    /// <summary>Whether a message to <paramref name="to"/> is waiting (one already received and not yet read).</summary>
    public bool HasMessageFor(string to) => Mailbox(to).Reader.Count > 0;

    /// <summary>The first run of <paramref name="length"/> digits on a line of its own in the plain-text body.</summary>
    public static string CodeIn(MimeMessage message, int length = 6) =>
        Regex.Match(message.TextBody ?? "", $@"^\s*(\d{{{length}}})\s*$", RegexOptions.Multiline) is { Success: true } match
            ? match.Groups[1].Value
            : throw new InvalidOperationException("The message holds no code: " + message.TextBody);

    /// <summary>The reset token (43 base64url characters) on a line of its own in the plain-text body.</summary>
    public static string ResetTokenIn(MimeMessage message) =>
        ResetToken().Match(message.TextBody ?? "") is { Success: true } match
            ? match.Groups[1].Value
            : throw new InvalidOperationException("The message holds no reset token: " + message.TextBody);

    public async ValueTask DisposeAsync()
    {
        server.Shutdown();
        await stop.CancelAsync();
        try
        {
            await running;
        }
        catch (OperationCanceledException)
        {
        }

        stop.Dispose();
    }

    private Channel<MimeMessage> Mailbox(string address) => mailboxes.GetOrAdd(address, _ => Channel.CreateUnbounded<MimeMessage>());

    private async Task WaitUntilListeningAsync()
    {
        // The listener is bound as StartAsync begins; a refused connection fails at once, so this loop ends quickly.
        using var deadline = new CancellationTokenSource(Deadline);
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, Port, deadline.Token);
                return;
            }
            catch (SocketException)
            {
                await Task.Yield();
            }
        }
    }

    [GeneratedRegex(@"^\s*([A-Za-z0-9_-]{43})\s*$", RegexOptions.Multiline)]
    private static partial Regex ResetToken();

    private sealed class Store(SmtpInbox inbox) : IMessageStore
    {
        public async Task<SmtpResponse> SaveAsync(
            ISessionContext context, IMessageTransaction transaction, ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref inbox.deliveries);
            if (Interlocked.Decrement(ref inbox.refuse) >= 0)
            {
                return new SmtpResponse(SmtpReplyCode.Aborted, "Try again later");
            }

            using var stream = new MemoryStream(buffer.ToArray());
            var message = await MimeMessage.LoadAsync(stream, cancellationToken);
            foreach (var to in message.To.Mailboxes)
            {
                inbox.Mailbox(to.Address).Writer.TryWrite(message);
            }

            return new SmtpResponse(SmtpReplyCode.Ok, "Queued");
        }
    }
}
