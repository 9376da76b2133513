using IronAuth.Core.Email;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

public static class EmailServiceCollectionExtensions
{
    /// <summary>
    /// The sender named by <c>IronAuth:Email</c> (SMTP when <c>Smtp:Host</c> is set, the pickup directory when
    /// <c>PickupDirectory</c> is), the templates and the background outbox. Safe to call twice.
    /// </summary>
    public static IServiceCollection AddIronAuthEmail(this IServiceCollection services)
    {
        services.AddOptions<EmailOptions>().BindConfiguration(EmailOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EmailOptions>, EmailOptionsValidator>());
        services.TryAddSingleton<IEmailSender>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<EmailOptions>>();
            return !string.IsNullOrWhiteSpace(options.Value.Smtp.Host) ? new SmtpEmailSender(options)
                : !string.IsNullOrWhiteSpace(options.Value.PickupDirectory) ? new PickupDirectoryEmailSender(options, sp.GetRequiredService<TimeProvider>())
                : new UnconfiguredEmailSender();
        });
        services.TryAddSingleton<EmailTemplates>();
        services.TryAddSingleton<EmailOutbox>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, EmailOutbox>(sp => sp.GetRequiredService<EmailOutbox>()));
        return services;
    }
}
