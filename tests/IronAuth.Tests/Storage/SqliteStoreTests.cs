using IronAuth.Core;
using IronAuth.Core.Limits;
using IronAuth.Core.Storage.Sqlite;
using IronAuth.Core.Tokens;
using IronAuth.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace IronAuth.Tests.Storage;

public sealed class SqliteStoreTests : StoreContractTests
{
    private readonly TempDirectory directory = new();

    private string DatabasePath => Path.Combine(directory.Path, "contract.db");

    protected override Task<IDictionary<string, string?>> CreateStoreSettingsAsync() =>
        Task.FromResult<IDictionary<string, string?>>(new Dictionary<string, string?>
        {
            ["IronAuth:Store"] = "sqlite",
            ["IronAuth:Sqlite:Path"] = DatabasePath,
        });

    protected override Task DisposeStoreAsync()
    {
        directory.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task The_wal_stays_small_under_sustained_writes_and_reads()
    {
        // A reader left unfinished pins the WAL: checkpoints can then never restart it and it grows by every
        // commit. 6,000 commits of a few pages each would make tens of megabytes; a healthy WAL restarts after
        // each automatic checkpoint (1,000 pages, about 4 MiB).
        var metering = Services.GetRequiredService<IMeteringStore>();
        var token = NewApiToken();
        await ApiTokens.CreateAsync(token, false, default);
        var limits = new EffectiveLimits(1_000_000, 1_000_000, new Quota(0, 0, 0));
        for (var i = 0; i < 3_000; i++)
        {
            Time.Advance(TimeSpan.FromMilliseconds(1));
            await metering.TakeAndCountAsync(token.Id, limits, new UsageDelta(1, 1, 0), Time.GetUtcNow(), default);
            await Buckets.TakeAsync(Ids.New(Time), 10, 1, Time.GetUtcNow(), default);
            Assert.NotNull(await ApiTokens.FindByDigestAsync(token.Digest, default));
            await Users.AnyAsync(default);
        }

        var wal = new FileInfo(DatabasePath + "-wal");
        Assert.True(wal.Exists);
        Assert.True(wal.Length < 8 * 1024 * 1024, $"WAL is {wal.Length / 1024} KiB");
    }

    [Fact]
    public async Task Every_connection_keeps_temporary_tables_in_memory()
    {
        // RETURNING collects its rows in a temporary table; backed by a file (the bundled SQLite's default) it made
        // each metering statement 5 to 8 times slower. 2 = MEMORY.
        var database = Services.GetRequiredService<SqliteDatabase>();
        await using (var writer = await database.WriteAsync(default))
        {
            Assert.Equal(2L, await writer.ScalarAsync("PRAGMA temp_store;", default));
        }

        await using var reader = await database.ReadAsync(default);
        Assert.Equal(2L, await reader.ScalarAsync("PRAGMA temp_store;", default));
    }

    [Fact]
    public async Task Concurrent_uses_are_each_answered_and_counted_once_and_disposal_answers_the_rest()
    {
        var metering = new SqliteMeteringStore(Services.GetRequiredService<SqliteDatabase>());
        var tokens = Enumerable.Range(0, 20).Select(_ => Ids.New(Time)).ToArray();
        var limits = new EffectiveLimits(1_000_000, 1_000_000, new Quota(0, 0, 0));
        var now = Time.GetUtcNow();

        // Many callers at once, in waves, so the writer goes idle and is woken again between them.
        for (var wave = 0; wave < 20; wave++)
        {
            var uses = await Task.WhenAll(Enumerable.Range(0, 100).Select(i => Task.Run(() =>
                metering.TakeAndCountAsync(tokens[i % tokens.Length], limits, new UsageDelta(1, 1, 0), now, default))));
            Assert.All(uses, use => Assert.True(use.Usage!.Added));
        }

        var day = UsageDay.DayOf(now);
        foreach (var token in tokens)
        {
            Assert.Equal((100L, 100L), (await Usage.ListAsync(token, day, day, default)).Select(d => (d.Requests, d.Tokens)).Single());
        }

        var inFlight = Enumerable.Range(0, 200).Select(i => metering.TakeAndCountAsync(tokens[0], limits, new UsageDelta(1, 0, 0), now, default)).ToList();
        await metering.DisposeAsync();

        // Everything accepted before disposal is written, not dropped; afterwards the store refuses.
        await Task.WhenAll(inFlight);
        Assert.Equal(300L, (await Usage.ListAsync(tokens[0], day, day, default)).Single().Requests);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => metering.TakeAndCountAsync(tokens[0], limits, new UsageDelta(1, 0, 0), now, default));
    }
}
