using MimeKit;

namespace IronAuth.Core.Email;

internal static class MimeMessages
{
    /// <summary>A multipart/alternative message: the plain text first, the HTML as the preferred rendering.</summary>
    public static MimeMessage From(EmailMessage message, string from)
    {
        var mime = new MimeMessage();
        mime.From.Add(MailboxAddress.Parse(from));
        mime.To.Add(MailboxAddress.Parse(message.To));
        mime.Subject = message.Subject;
        mime.Body = new BodyBuilder { TextBody = message.TextBody, HtmlBody = message.HtmlBody }.ToMessageBody();
        return mime;
    }
}
