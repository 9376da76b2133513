using Microsoft.Extensions.Options;

namespace IronAuth.Core.Email;

/// <summary>
/// For local runs: writes each message as an RFC 5322 <c>.eml</c> file into <see cref="EmailOptions.PickupDirectory"/>
/// (created when missing). The file is written under a temporary name and renamed, so a reader never sees half of one.
/// </summary>
public sealed class PickupDirectoryEmailSender(IOptions<EmailOptions> options, TimeProvider time) : IEmailSender
{
    public async Task SendAsync(EmailMessage message, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var directory = settings.PickupDirectory!;
        Directory.CreateDirectory(directory);
        var name = $"{time.GetUtcNow():yyyyMMdd'T'HHmmssfff}-{Guid.NewGuid():N}";
        var partial = Path.Combine(directory, name + ".tmp");
        var mime = MimeMessages.From(message, settings.From!);
        await mime.WriteToAsync(partial, cancellationToken);
        File.Move(partial, Path.Combine(directory, name + ".eml"));
    }
}
