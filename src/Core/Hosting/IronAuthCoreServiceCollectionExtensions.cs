using IronAuth.Core.Accounts;
using IronAuth.Core.Audit;
using IronAuth.Core.Budgets;
using IronAuth.Core.Caching;
using IronAuth.Core.Configuration;
using IronAuth.Core.Federation;
using IronAuth.Core.Hosting;
using IronAuth.Core.Limits;
using IronAuth.Core.Maintenance;
using IronAuth.Core.Mfa;
using IronAuth.Core.Passwords;
using IronAuth.Core.Sessions;
using IronAuth.Core.Signing;
using IronAuth.Core.Storage;
using IronAuth.Core.Storage.Sqlite;
using IronAuth.Core.OAuth;
using IronAuth.Core.Telemetry;
using IronAuth.Core.Tokens;
using IronAuth.Core.Users;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

public static class IronAuthCoreServiceCollectionExtensions
{
    /// <summary>The domain services, options bound from <c>IronAuth</c> and validated at start. Safe to call twice.</summary>
    public static IServiceCollection AddIronAuthCore(this IServiceCollection services)
    {
        services.AddOptions<IronAuthOptions>().BindConfiguration(IronAuthOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<IronAuthOptions>, IronAuthOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IronAuthMetrics>();
        services.TryAddSingleton<PasswordPolicy>();
        services.TryAddSingleton<PasswordHasher>();
        services.TryAddSingleton<SigningKeys>();
        services.TryAddSingleton<SigningKeyManager>();
        services.TryAddSingleton<AccessTokens>();
        services.TryAddSingleton<LoginThrottle>();
        services.TryAddSingleton<PasswordAttempts>();
        services.TryAddSingleton<AuditPseudonyms>();
        services.TryAddSingleton<SignInManager>();
        services.TryAddSingleton<UserManager>();
        services.TryAddSingleton<CredentialCache>();
        services.TryAddSingleton<TokenManager>();
        services.TryAddSingleton<TokenVerifier>();
        // --- ops/usage (issue 19): spending analytics
        services.TryAddSingleton<IronAuth.Core.Analytics.SpendingAnalytics>();
        // --- end ops/usage
        services.TryAddSingleton<OAuthClients>();
        services.TryAddSingleton<ClientCredentialsGrant>();
        services.TryAddSingleton<TokenIntrospector>();
        services.TryAddSingleton<MaintenanceJob>();
        services.TryAddSingleton<Readiness>();
        // Agent budgets (issue 18)
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<IronAuthOptions>, BudgetOptionsValidator>());
        services.TryAddSingleton<ProviderCredentials>();
        services.TryAddSingleton<IcTokens>();
        services.TryAddSingleton<BudgetManager>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, IronAuthInitializer>());
        // ---- Accounts (issue 16): email, sign-up and verification, two-factor, federated sign-in ----
        services.AddIronAuthAccounts();
        // ---- end Accounts ----
        return services;
    }

    /// <summary>Runs maintenance on its schedule in this process (the self-hosted server; Functions uses a timer).</summary>
    public static IServiceCollection AddIronAuthMaintenanceScheduler(this IServiceCollection services)
    {
        services.TryAddSingleton<MaintenanceScheduler>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, MaintenanceScheduler>(sp => sp.GetRequiredService<MaintenanceScheduler>()));
        return services;
    }

    /// <summary>The store named by <c>IronAuth:Store</c>.</summary>
    public static IServiceCollection AddIronAuthStore(this IServiceCollection services, IConfiguration configuration)
    {
        var store = configuration[$"{IronAuthOptions.SectionName}:Store"];
        if (string.IsNullOrEmpty(store) || store.Equals(nameof(StoreKind.Sqlite), StringComparison.OrdinalIgnoreCase))
        {
            return services.AddSqliteStore();
        }

        if (store.Equals(nameof(StoreKind.Tables), StringComparison.OrdinalIgnoreCase))
        {
            return services.AddTableStore();
        }

        throw new OptionsValidationException(
            "IronAuth:Store", typeof(IronAuthOptions), [$"IronAuth:Store must be 'sqlite' or 'tables' (was '{store}')."]);
    }

    public static IServiceCollection AddSqliteStore(this IServiceCollection services)
    {
        services.TryAddSingleton<SqliteDatabase>();
        services.TryAddSingleton<IStoreLifecycle>(sp => sp.GetRequiredService<SqliteDatabase>());
        services.TryAddSingleton<IUserStore, SqliteUserStore>();
        services.TryAddSingleton<ISessionStore, SqliteSessionStore>();
        services.TryAddSingleton<IAuditStore, SqliteAuditStore>();
        services.TryAddSingleton<IPasswordResetStore, SqlitePasswordResetStore>();
        services.TryAddSingleton<ISigningKeyStore, SqliteSigningKeyStore>();
        services.TryAddSingleton<IApiTokenStore, SqliteApiTokenStore>();
        services.TryAddSingleton<IRateBucketStore, SqliteRateBucketStore>();
        services.TryAddSingleton<IUsageStore, SqliteUsageStore>();
        services.TryAddSingleton<IMeteringStore, SqliteMeteringStore>();
        // --- ops/usage (issue 19)
        services.TryAddSingleton<IronAuth.Core.Analytics.IUsageAnalyticsStore, SqliteUsageAnalyticsStore>();
        // --- end ops/usage
        services.TryAddSingleton<SqliteMaintenanceStore>();
        services.TryAddSingleton<IMaintenanceStore>(sp => sp.GetRequiredService<SqliteMaintenanceStore>());
        services.TryAddSingleton<ILeaseStore>(sp => sp.GetRequiredService<SqliteMaintenanceStore>());
        // ---- Accounts (issue 16) ----
        services.TryAddSingleton<IEmailCodeStore, SqliteEmailCodeStore>();
        services.TryAddSingleton<IMfaStore, SqliteMfaStore>();
        services.TryAddSingleton<IFederatedIdentityStore, SqliteFederatedIdentityStore>();
        // ---- end Accounts ----
        services.TryAddSingleton<IBudgetStore, SqliteBudgetStore>();
        return services;
    }
}
