using IronAuth.Core.Caching;
using IronAuth.Core.Configuration;
using IronAuth.Core.Sessions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace IronAuth.Tests.Unit;

public sealed class CredentialCacheTests
{
    private readonly FakeTimeProvider clock = new(new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero));
    private int loads;

    private CredentialCache NewCache(TimeSpan ttl) =>
        new(Options.Create(new IronAuthOptions { Tokens = new TokenOptions { CacheTtl = ttl } }), clock, new IronAuth.Core.Telemetry.IronAuthMetrics());

    private Session NewSession(string userId = "user-1") => new()
    {
        Id = "session-1", UserId = userId, CreatedAt = clock.GetUtcNow(), ExpiresAt = clock.GetUtcNow().AddDays(1),
    };

    private Task<Session?> Load(Session? session)
    {
        loads++;
        return Task.FromResult(session);
    }

    [Fact]
    public async Task A_hit_is_served_until_the_ttl_then_loaded_again()
    {
        var cache = NewCache(TimeSpan.FromSeconds(2));
        var session = NewSession();

        await cache.GetSessionAsync("session-1", () => Load(session));
        clock.Advance(TimeSpan.FromSeconds(1.9));
        await cache.GetSessionAsync("session-1", () => Load(session));
        Assert.Equal(1, loads);

        clock.Advance(TimeSpan.FromSeconds(0.1));
        await cache.GetSessionAsync("session-1", () => Load(session));
        Assert.Equal(2, loads);
    }

    [Fact]
    public async Task Misses_are_not_cached_and_a_zero_ttl_caches_nothing()
    {
        var cache = NewCache(TimeSpan.FromSeconds(2));
        await cache.GetSessionAsync("session-1", () => Load(null));
        await cache.GetSessionAsync("session-1", () => Load(null));

        var off = NewCache(TimeSpan.Zero);
        await off.GetSessionAsync("session-1", () => Load(NewSession()));
        await off.GetSessionAsync("session-1", () => Load(NewSession()));

        Assert.Equal(4, loads);
    }

    [Fact]
    public async Task Evicting_by_id_or_by_user_drops_the_entry()
    {
        var cache = NewCache(TimeSpan.FromMinutes(1));
        var session = NewSession("user-1");
        await cache.GetSessionAsync("session-1", () => Load(session));

        cache.EvictSessionsOf("user-2");
        await cache.GetSessionAsync("session-1", () => Load(session));
        Assert.Equal(1, loads);

        cache.EvictSessionsOf("user-1");
        await cache.GetSessionAsync("session-1", () => Load(session));
        cache.EvictSession("session-1");
        await cache.GetSessionAsync("session-1", () => Load(session));
        Assert.Equal(3, loads);
    }

    [Fact]
    public async Task A_load_that_overlaps_an_eviction_is_not_kept()
    {
        // The load read the session before a logout committed; the logout evicted while the load was in flight.
        // Keeping that read would let the logged-out session in for a whole TTL.
        var cache = NewCache(TimeSpan.FromMinutes(1));
        var stale = NewSession();
        var reading = new TaskCompletionSource<Session?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = cache.GetSessionAsync("session-1", () => reading.Task);

        cache.EvictSession("session-1");
        reading.SetResult(stale);

        Assert.Same(stale, await first);
        var revoked = stale with { RevokedAt = clock.GetUtcNow() };
        Assert.Same(revoked, await cache.GetSessionAsync("session-1", () => Task.FromResult<Session?>(revoked)));
    }
}
