using IronAuth.Core.Limits;
using IronAuth.Core.Storage;
using IronAuth.Core.Tokens;
using IronAuth.Core.Users;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace IronAuth.Benchmarks;

/// <summary>A store of either kind with a user and an API token with generous limits, built through the same DI as the hosts.</summary>
public sealed class Stores : IAsyncDisposable
{
    private readonly ServiceProvider services;
    private readonly string? directory;

    private Stores(ServiceProvider services, string? directory)
    {
        this.services = services;
        this.directory = directory;
    }

    public IServiceProvider Services => services;

    public string Token { get; private set; } = "";

    public string TokenId { get; private set; } = "";

    /// <summary>"sqlite" always; "tables" when IRONAUTH_BENCH_TABLES holds a Table Storage connection string (the load script starts Azurite).</summary>
    public static IEnumerable<string> Available()
    {
        yield return "sqlite";
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("IRONAUTH_BENCH_TABLES")))
        {
            yield return "tables";
        }
    }

    public static async Task<Stores> CreateAsync(string store)
    {
        string? directory = null;
        var settings = new Dictionary<string, string?> { ["IronAuth:Store"] = store, ["IronAuth:Passwords:BcryptWorkFactor"] = "4" };
        if (store == "sqlite")
        {
            directory = Directory.CreateTempSubdirectory("ironauth-bench").FullName;
            settings["IronAuth:Sqlite:Path"] = Path.Combine(directory, "bench.db");
        }
        else
        {
            settings["IronAuth:Tables:ConnectionString"] = Environment.GetEnvironmentVariable("IRONAUTH_BENCH_TABLES");
            settings["IronAuth:Tables:TablePrefix"] = "bench" + Guid.NewGuid().ToString("N")[..8];
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var collection = new ServiceCollection();
        collection.AddSingleton<IConfiguration>(configuration);
        collection.AddLogging();
        collection.AddIronAuthCore();
        collection.AddIronAuthStore(configuration);
        var provider = collection.BuildServiceProvider();
        await provider.GetRequiredService<IStoreLifecycle>().InitializeAsync(default);

        var stores = new Stores(provider, directory);
        var user = await provider.GetRequiredService<UserManager>().CreateAsync(
            IronAuth.Core.Actor.System, new NewUser("bench-" + Guid.NewGuid().ToString("N")[..8], "bench-password-long-enough", Role.Admin), default);
        var issued = await provider.GetRequiredService<TokenManager>().CreateAsync(
            IronAuth.Core.Actor.System,
            new NewApiToken(user.Value!.Id, "bench", null, 30, new TokenLimits(RequestsPerSecond: 1_000_000, Burst: 1_000_000)),
            TokenCreator.LocalOperator,
            default);
        stores.Token = issued.Value!.Plaintext;
        stores.TokenId = issued.Value.Token.Id;
        return stores;
    }

    public async ValueTask DisposeAsync()
    {
        await services.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (directory is not null)
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
