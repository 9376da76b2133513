using System.Runtime.Versioning;
using IronAuth.Core.Configuration;
using IronAuth.Core.Signing;
using IronAuth.Core.Storage.Sqlite;
using IronAuth.Tests.Support;
using Microsoft.Extensions.Options;

namespace IronAuth.Tests.Storage;

// Unix file modes: the Windows equivalent is the folder's inherited ACL, which IronAuth leaves alone.
[UnsupportedOSPlatform("windows")]
public sealed class SqliteFileTests : IDisposable
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private readonly TempDirectory directory = new();

    public void Dispose() => directory.Dispose();

    [Fact]
    public async Task A_new_database_and_its_wal_and_shm_are_readable_by_their_owner_only()
    {
        var path = Path.Combine(directory.Path, "new.db");
        await using (var database = Open(path))
        {
            await database.InitializeAsync(default);
            await new SqliteSigningKeyStore(database).GetOrAddAsync(
                new StoredSigningKey("k1", SigningAlgorithm.ES256, SigningKeys.Generate(SigningAlgorithm.ES256), DateTimeOffset.UnixEpoch), default);

            Assert.True(File.Exists(path + "-wal"));
            Assert.True(File.Exists(path + "-shm"));
            Assert.All(new[] { path, path + "-wal", path + "-shm" }, file => Assert.Equal(OwnerOnly, File.GetUnixFileMode(file)));
        }
    }

    [Fact]
    public async Task Files_an_earlier_version_left_open_to_others_are_narrowed_when_opened()
    {
        var path = Path.Combine(directory.Path, "old.db");
        await using (var database = Open(path))
        {
            await database.InitializeAsync(default);
        }

        const UnixFileMode worldReadable = OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        File.SetUnixFileMode(path, worldReadable);
        File.WriteAllBytes(path + "-journal", []);
        File.SetUnixFileMode(path + "-journal", worldReadable);

        await using (var database = Open(path))
        {
            await database.InitializeAsync(default);
        }

        Assert.Equal(OwnerOnly, File.GetUnixFileMode(path));
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(path + "-journal"));
    }

    private static SqliteDatabase Open(string path) =>
        new(Options.Create(new IronAuthOptions { Sqlite = new SqliteOptions { Path = path } }));
}
