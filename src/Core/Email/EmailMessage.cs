namespace IronAuth.Core.Email;

/// <summary>
/// One message to one recipient. <see cref="Kind"/> names the template (<c>verify-email</c>, <c>password-reset</c>) for
/// logs and metrics, which never see the bodies: they carry codes and reset tokens.
/// </summary>
public sealed record EmailMessage(string To, string Kind, string Subject, string TextBody, string HtmlBody);

/// <summary>Delivers a message, or throws: the outbox decides about retries.</summary>
public interface IEmailSender
{
    Task SendAsync(EmailMessage message, CancellationToken cancellationToken);
}
