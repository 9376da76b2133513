using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IronAuth.Core.Email;

/// <summary>
/// Sends email off the request path. A request enqueues a message (or the work that makes one) and returns; a
/// few workers (<see cref="EmailOptions.MaxConcurrentSends"/>) send in the background, each attempt bounded by
/// <see cref="EmailOptions.SendTimeout"/>, a failed attempt retried after <see cref="EmailOptions.RetryDelay"/>
/// (doubling) up to <see cref="EmailOptions.MaxSendAttempts"/> times. Nothing is dropped silently: a full queue
/// refuses the enqueue (the caller answers 503), every failed attempt is logged as a warning, a message given up
/// is logged as an error, and so is every message still unsent when the host's shutdown time runs out.
/// </summary>
/// <remarks>
/// The queue is in memory, so what is still in it when the process dies (not stops) is lost; that is acceptable for
/// what IronAuth mails, because each message can be asked for again (resend, reset request). On a graceful stop the
/// queue takes no more messages and the workers keep sending until the queue is empty or the host's shutdown
/// timeout ends; then the rest is counted and logged. Bodies carry codes and reset tokens: only the message kind is
/// ever logged, never a body or the recipient.
/// </remarks>
public sealed partial class EmailOutbox(IEmailSender sender, IOptions<EmailOptions> options, ILogger<EmailOutbox> logger) : IHostedService, IDisposable
{
    private readonly Channel<Outgoing> queue = Channel.CreateBounded<Outgoing>(
        new BoundedChannelOptions(options.Value.QueueCapacity) { FullMode = BoundedChannelFullMode.Wait });

    private readonly CancellationTokenSource stopping = new();
    private Task[] workers = [];
    private int pending;

    /// <summary>Messages accepted and not yet sent, given up or found to need no sending.</summary>
    public int Pending => Volatile.Read(ref pending);

    /// <summary>Queues a message; false (logged) when the queue is full or the host is stopping.</summary>
    public bool TryEnqueue(EmailMessage message) => TryEnqueue(message.Kind, _ => Task.FromResult<EmailMessage?>(message));

    /// <summary>
    /// Queues work that makes a message, run once in the background (its result, unless null, is sent with
    /// retries). This keeps whatever the work costs (a lookup, a write, a hash) off the request, so the answer's
    /// timing says nothing about what the work found.
    /// </summary>
    public bool TryEnqueue(string kind, Func<CancellationToken, Task<EmailMessage?>> compose)
    {
        Interlocked.Increment(ref pending);
        if (queue.Writer.TryWrite(new Outgoing(kind, compose)))
        {
            return true;
        }

        Interlocked.Decrement(ref pending);
        LogQueueFull(logger, kind);
        return false;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        workers = [.. Enumerable.Range(0, options.Value.MaxConcurrentSends).Select(_ => Task.Run(WorkAsync, CancellationToken.None))];
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        queue.Writer.TryComplete();
        try
        {
            await Task.WhenAll(workers).WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // The host's shutdown time is up: stop sending and say how much is left unsent.
            await stopping.CancelAsync();
            await Task.WhenAll(workers);
        }

        if (Pending > 0)
        {
            LogUnsentAtShutdown(logger, Pending);
        }
    }

    public void Dispose() => stopping.Dispose();

    private async Task WorkAsync()
    {
        try
        {
            await foreach (var item in queue.Reader.ReadAllAsync(stopping.Token))
            {
                try
                {
                    await ProcessAsync(item);
                }
                finally
                {
                    Interlocked.Decrement(ref pending);
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private async Task ProcessAsync(Outgoing item)
    {
        EmailMessage? message;
        try
        {
            message = await item.Compose(stopping.Token);
        }
        catch (Exception e) when (!stopping.IsCancellationRequested)
        {
            LogComposeFailed(logger, item.Kind, e);
            return;
        }

        if (message is null)
        {
            return;
        }

        var settings = options.Value;
        for (var attempt = 1; ; attempt++)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token);
            timeout.CancelAfter(settings.SendTimeout);
            try
            {
                await sender.SendAsync(message, timeout.Token);
                LogSent(logger, message.Kind, attempt);
                return;
            }
            catch (Exception e) when (!stopping.IsCancellationRequested)
            {
                LogAttemptFailed(logger, message.Kind, attempt, e);
            }

            if (attempt >= settings.MaxSendAttempts)
            {
                LogGivenUp(logger, message.Kind, attempt);
                return;
            }

            // Pacing against a struggling server, not domain time: the real clock, as the Table store's back-off.
            await Task.Delay(settings.RetryDelay * Math.Pow(2, attempt - 1), stopping.Token);
        }
    }

    private sealed record Outgoing(string Kind, Func<CancellationToken, Task<EmailMessage?>> Compose);

    [LoggerMessage(EventId = 1601, EventName = "EmailSent", Level = LogLevel.Information, Message = "Sent a {Kind} email (attempt {Attempt})")]
    private static partial void LogSent(ILogger logger, string kind, int attempt);

    [LoggerMessage(EventId = 1602, EventName = "EmailAttemptFailed", Level = LogLevel.Warning, Message = "Sending a {Kind} email failed (attempt {Attempt}); it will be retried unless that was the last attempt")]
    private static partial void LogAttemptFailed(ILogger logger, string kind, int attempt, Exception exception);

    [LoggerMessage(EventId = 1603, EventName = "EmailGivenUp", Level = LogLevel.Error, Message = "A {Kind} email was not sent after {Attempts} attempts and is given up")]
    private static partial void LogGivenUp(ILogger logger, string kind, int attempts);

    [LoggerMessage(EventId = 1604, EventName = "EmailQueueFull", Level = LogLevel.Error, Message = "A {Kind} email was refused: the outbox is full or stopping")]
    private static partial void LogQueueFull(ILogger logger, string kind);

    [LoggerMessage(EventId = 1605, EventName = "EmailUnsentAtShutdown", Level = LogLevel.Error, Message = "{Count} queued emails were not sent before shutdown")]
    private static partial void LogUnsentAtShutdown(ILogger logger, int count);

    [LoggerMessage(EventId = 1606, EventName = "EmailComposeFailed", Level = LogLevel.Error, Message = "Preparing a {Kind} email failed; nothing was sent")]
    private static partial void LogComposeFailed(ILogger logger, string kind, Exception exception);
}

/// <summary>Stands in when no sender is configured; features that send refuse to start, so this is only reached by a bug.</summary>
internal sealed class UnconfiguredEmailSender : IEmailSender
{
    public Task SendAsync(EmailMessage message, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("No email sender is configured: set IronAuth:Email:Smtp:Host or IronAuth:Email:PickupDirectory.");
}
