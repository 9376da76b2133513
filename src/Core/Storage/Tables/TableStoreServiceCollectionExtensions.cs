using Azure.Data.Tables;
using IronAuth.Core.Accounts;
using IronAuth.Core.Audit;
using IronAuth.Core.Budgets;
using IronAuth.Core.Configuration;
using IronAuth.Core.Federation;
using IronAuth.Core.Limits;
using IronAuth.Core.Maintenance;
using IronAuth.Core.Mfa;
using IronAuth.Core.Passwords;
using IronAuth.Core.Sessions;
using IronAuth.Core.Signing;
using IronAuth.Core.Storage;
using IronAuth.Core.Storage.Tables;
using IronAuth.Core.Tokens;
using IronAuth.Core.Users;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

public static class TableStoreServiceCollectionExtensions
{
    /// <summary>
    /// The Azure Table Storage store (<c>IronAuth:Store=tables</c>): one <see cref="TableServiceClient"/> for
    /// the process, connected by <c>IronAuth:Tables:ConnectionString</c> (else the top-level
    /// <c>AzureWebJobsStorage</c> value) or <c>IronAuth:Tables:ServiceUri</c> with DefaultAzureCredential.
    /// Safe to call twice.
    /// </summary>
    public static IServiceCollection AddTableStore(this IServiceCollection services)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<IronAuthOptions>, TablesConnectionFallback>());
        services.TryAddSingleton(sp => TableStorage.CreateServiceClient(sp.GetRequiredService<IOptions<IronAuthOptions>>().Value.Tables));
        services.TryAddSingleton<TableStorage>();
        services.TryAddSingleton<IStoreLifecycle>(sp => sp.GetRequiredService<TableStorage>());
        services.TryAddSingleton<IUserStore, TableUserStore>();
        services.TryAddSingleton<ISessionStore, TableSessionStore>();
        services.TryAddSingleton<IAuditStore, TableAuditStore>();
        services.TryAddSingleton<IPasswordResetStore, TablePasswordResetStore>();
        services.TryAddSingleton<ISigningKeyStore, TableSigningKeyStore>();
        services.TryAddSingleton<IApiTokenStore, TableApiTokenStore>();
        // One metering store serves all three ports: they share its per-key state and queue.
        services.TryAddSingleton<TableMeteringStore>();
        services.TryAddSingleton<IMeteringStore>(sp => sp.GetRequiredService<TableMeteringStore>());
        services.TryAddSingleton<IRateBucketStore>(sp => sp.GetRequiredService<TableMeteringStore>());
        services.TryAddSingleton<IUsageStore>(sp => sp.GetRequiredService<TableMeteringStore>());
        // --- ops/usage (issue 19)
        services.TryAddSingleton<IronAuth.Core.Analytics.IUsageAnalyticsStore, TableUsageAnalyticsStore>();
        // --- end ops/usage
        services.TryAddSingleton<TableMaintenanceStore>();
        services.TryAddSingleton<IMaintenanceStore>(sp => sp.GetRequiredService<TableMaintenanceStore>());
        services.TryAddSingleton<ILeaseStore>(sp => sp.GetRequiredService<TableMaintenanceStore>());
        // ---- Accounts (issue 16) ----
        services.TryAddSingleton<IEmailCodeStore, TableEmailCodeStore>();
        services.TryAddSingleton<IMfaStore, TableMfaStore>();
        services.TryAddSingleton<IFederatedIdentityStore, TableFederatedIdentityStore>();
        // ---- end Accounts ----
        services.TryAddSingleton<IBudgetStore, TableBudgetStore>();
        return services;
    }

    /// <summary>
    /// Uses the Functions host's own storage setting when no Table endpoint is configured, so a Functions
    /// app needs no second copy of its connection string. Runs before validation, which then sees the result.
    /// </summary>
    private sealed class TablesConnectionFallback(IConfiguration? configuration = null) : IPostConfigureOptions<IronAuthOptions>
    {
        public void PostConfigure(string? name, IronAuthOptions options)
        {
            var tables = options.Tables;
            if (string.IsNullOrWhiteSpace(tables.ConnectionString) && string.IsNullOrWhiteSpace(tables.ServiceUri))
            {
                tables.ConnectionString = configuration?[TableStorage.FallbackConnectionSetting];
            }
        }
    }
}
