using IronAuth.Tests.Support;

namespace IronAuth.Tests.Storage;

public sealed class SqliteStoreTests : StoreContractTests
{
    private readonly TempDirectory directory = new();

    protected override Task<IDictionary<string, string?>> CreateStoreSettingsAsync() =>
        Task.FromResult<IDictionary<string, string?>>(new Dictionary<string, string?>
        {
            ["IronAuth:Store"] = "sqlite",
            ["IronAuth:Sqlite:Path"] = Path.Combine(directory.Path, "contract.db"),
        });

    protected override Task DisposeStoreAsync()
    {
        directory.Dispose();
        return Task.CompletedTask;
    }
}
