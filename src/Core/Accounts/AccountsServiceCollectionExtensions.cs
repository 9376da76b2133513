using IronAuth.Core.Accounts;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

public static class AccountsServiceCollectionExtensions
{
    /// <summary>Email (<see cref="EmailServiceCollectionExtensions.AddIronAuthEmail"/>) and self-service accounts. Safe to call twice.</summary>
    public static IServiceCollection AddIronAuthAccounts(this IServiceCollection services)
    {
        services.AddIronAuthEmail();
        services.AddOptions<RegistrationOptions>().BindConfiguration(RegistrationOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RegistrationOptions>, RegistrationOptionsValidator>());
        services.TryAddSingleton<EmailCodes>();
        services.TryAddSingleton<AccountManager>();
        return services;
    }
}
