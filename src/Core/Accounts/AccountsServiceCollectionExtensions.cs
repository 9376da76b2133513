using IronAuth.Core.Accounts;
using IronAuth.Core.Federation;
using IronAuth.Core.Mfa;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

public static class AccountsServiceCollectionExtensions
{
    /// <summary>Email (<see cref="EmailServiceCollectionExtensions.AddIronAuthEmail"/>), self-service accounts, two-factor sign-in and sign-in with OpenID providers. Safe to call twice.</summary>
    public static IServiceCollection AddIronAuthAccounts(this IServiceCollection services)
    {
        services.AddIronAuthEmail();
        services.AddOptions<RegistrationOptions>().BindConfiguration(RegistrationOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RegistrationOptions>, RegistrationOptionsValidator>());
        services.TryAddSingleton<EmailCodes>();
        services.TryAddSingleton<AccountManager>();
        services.AddOptions<MfaOptions>().BindConfiguration(MfaOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MfaOptions>, MfaOptionsValidator>());
        services.TryAddSingleton<TotpSecrets>();
        services.TryAddSingleton<MfaManager>();
        services.AddOptions<FederationOptions>().BindConfiguration(FederationOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FederationOptions>, FederationOptionsValidator>());
        services.TryAddSingleton<IdTokenValidator>();
        services.TryAddSingleton<FederationManager>();
        return services;
    }
}
