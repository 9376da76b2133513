using IronAuth.Core.Configuration;
using IronAuth.Core.Signing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace IronAuth.Tests.Unit;

/// <summary>How often an instance reads the store's keys: the cross-instance bound, and no more.</summary>
public sealed class SigningKeysTests
{
    private readonly FakeTimeProvider time = new(new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero));
    private readonly CountingStore store = new();

    private SigningKeys Create() => new(store, Options.Create(new IronAuthOptions { Jwt = { Algorithm = SigningAlgorithm.ES256 } }), time);

    [Fact]
    public async Task The_keys_are_read_again_once_the_refresh_interval_has_passed_and_not_before()
    {
        var keys = Create();
        var first = await keys.GetSetAsync();
        Assert.Equal(1, store.Lists);

        time.Advance(TimeSpan.FromSeconds(29));
        Assert.Same(first, await keys.GetSetAsync());
        Assert.Equal(1, store.Lists);

        // Another instance rotates; this one signs with the new key from the first use 30 s after its last read.
        await store.RotateAsync(first.Active.KeyId, store.NewKey(time.GetUtcNow()), time.GetUtcNow(), default);
        time.Advance(TimeSpan.FromSeconds(1));
        var second = await keys.GetSetAsync();
        Assert.Equal(2, store.Lists);
        Assert.NotEqual(first.Active.KeyId, second.Active.KeyId);
        Assert.Equal([second.Active.KeyId, first.Active.KeyId], second.Published.Select(k => k.KeyId));
    }

    [Fact]
    public async Task Unknown_kids_read_the_store_at_most_once_a_second()
    {
        var keys = Create();
        await keys.GetSetAsync();

        var found = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => keys.FindAsync($"made-up-{i}")));
        Assert.All(found, Assert.Null);
        Assert.Equal(2, store.Lists);

        // A key rotated in elsewhere is found at the next allowed read.
        var next = store.NewKey(time.GetUtcNow());
        await store.RotateAsync(store.Active, next, time.GetUtcNow(), default);
        var kid = SigningKeys.KeyIdOf(next.PrivateKeyPem, next.Algorithm);
        Assert.Null(await keys.FindAsync(kid));
        time.Advance(SigningKeys.UnknownKidRefreshInterval);
        Assert.NotNull(await keys.FindAsync(kid));
        Assert.Equal(3, store.Lists);
    }

    private sealed class CountingStore : ISigningKeyStore
    {
        private readonly List<StoredSigningKey> keys = [];
        private int lists;

        public int Lists => Volatile.Read(ref lists);

        public string Active => SigningKeys.ActiveOf(keys)!.Id;

        public StoredSigningKey NewKey(DateTimeOffset now)
        {
            var pem = SigningKeys.Generate(SigningAlgorithm.ES256);
            return new StoredSigningKey(SigningKeys.KeyIdOf(pem, SigningAlgorithm.ES256), SigningAlgorithm.ES256, pem, now);
        }

        public Task<StoredSigningKey> GetOrAddAsync(StoredSigningKey candidate, CancellationToken cancellationToken)
        {
            lock (keys)
            {
                if (keys.Find(k => k.Id == candidate.Id) is { } existing)
                {
                    return Task.FromResult(existing);
                }

                // Stored under its kid, so the tests can name keys by kid.
                var stored = candidate with { Id = SigningKeys.KeyIdOf(candidate.PrivateKeyPem, candidate.Algorithm) };
                keys.Add(stored);
                return Task.FromResult(stored);
            }
        }

        public Task<IReadOnlyList<StoredSigningKey>> ListAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref lists);
            lock (keys)
            {
                return Task.FromResult<IReadOnlyList<StoredSigningKey>>([.. keys]);
            }
        }

        public Task<bool> RotateAsync(string activeId, StoredSigningKey next, DateTimeOffset now, CancellationToken cancellationToken)
        {
            lock (keys)
            {
                var index = keys.FindIndex(k => k.Id == activeId && k.DeactivatedAt is null);
                if (index < 0)
                {
                    return Task.FromResult(false);
                }

                keys[index] = keys[index] with { DeactivatedAt = now };
                keys.Add(next);
                return Task.FromResult(true);
            }
        }

        public Task<bool> RetireAsync(string id, string publicKeyPem, DateTimeOffset now, CancellationToken cancellationToken) =>
            throw new NotSupportedException();
    }
}
