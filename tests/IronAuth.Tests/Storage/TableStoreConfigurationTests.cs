using Azure.Data.Tables;
using IronAuth.Core.Configuration;
using IronAuth.Core.Storage;
using IronAuth.Core.Storage.Tables;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace IronAuth.Tests.Storage;

/// <summary>How IronAuth:Store=tables finds its endpoint, and how a missing or wrong one is reported at start.</summary>
public sealed class TableStoreConfigurationTests
{
    private static ServiceProvider Build(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings.Append(new("IronAuth:Store", "tables"))).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging();
        services.AddIronAuthCore();
        services.AddIronAuthStore(configuration);
        return services.BuildServiceProvider();
    }

    private static string[] Errors(Dictionary<string, string?> settings)
    {
        using var services = Build(settings);
        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<IronAuthOptions>>().Value);
        return [.. error.Failures];
    }

    [Fact]
    public void Tables_store_is_selected_and_falls_back_to_AzureWebJobsStorage()
    {
        using var services = Build(new() { ["AzureWebJobsStorage"] = "UseDevelopmentStorage=true" });

        Assert.Equal("tables", services.GetRequiredService<IStoreLifecycle>().Name);
        Assert.IsType<TableUserStore>(services.GetRequiredService<Core.Users.IUserStore>());
        Assert.Equal(new Uri("http://127.0.0.1:10002/devstoreaccount1"), services.GetRequiredService<TableServiceClient>().Uri);
        Assert.Equal("ironauthUsers", services.GetRequiredService<TableStorage>().Users.Name);
    }

    [Fact]
    public void A_service_uri_connects_with_a_token_credential()
    {
        using var services = Build(new()
        {
            ["IronAuth:Tables:ServiceUri"] = "https://example.table.core.windows.net",
            ["IronAuth:Tables:TablePrefix"] = "prod",
            ["AzureWebJobsStorage"] = "UseDevelopmentStorage=true",
        });

        // The explicit ServiceUri wins over the fallback; no request is made to build the client.
        Assert.Equal("example", services.GetRequiredService<TableServiceClient>().AccountName);
        Assert.Equal("prodSessions", services.GetRequiredService<TableStorage>().Sessions.Name);
    }

    [Fact]
    public void Missing_endpoint_fails_start_naming_the_settings()
    {
        var error = Assert.Single(Errors([]));
        Assert.Contains("IronAuth:Tables:ConnectionString", error, StringComparison.Ordinal);
        Assert.Contains("AzureWebJobsStorage", error, StringComparison.Ordinal);
        Assert.Contains("IronAuth:Tables:ServiceUri", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_table_settings_are_each_named()
    {
        var errors = Errors(new()
        {
            ["IronAuth:Tables:ConnectionString"] = "AccountName=x;AccountKey=secret-key-material",
            ["IronAuth:Tables:TablePrefix"] = "9-bad",
            ["IronAuth:Tables:ConflictRetries"] = "0",
        });

        Assert.Contains(errors, e => e.Contains("IronAuth:Tables:ConnectionString", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("IronAuth:Tables:TablePrefix", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("IronAuth:Tables:ConflictRetries", StringComparison.Ordinal));
        Assert.DoesNotContain(errors, e => e.Contains("secret-key-material", StringComparison.Ordinal));
        Assert.Contains("set only one", Assert.Single(Errors(new()
        {
            ["IronAuth:Tables:ConnectionString"] = "UseDevelopmentStorage=true",
            ["IronAuth:Tables:ServiceUri"] = "https://example.table.core.windows.net",
        })), StringComparison.Ordinal);
    }
}
