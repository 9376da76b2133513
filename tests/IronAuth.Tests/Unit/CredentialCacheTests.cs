using IronAuth.Core.Caching;
using IronAuth.Core.Configuration;
using IronAuth.Core.Sessions;
using IronAuth.Core.Tokens;
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

    [Fact]
    public async Task Concurrent_misses_share_one_load()
    {
        var cache = NewCache(TimeSpan.FromSeconds(2));
        var session = NewSession();
        var reading = new TaskCompletionSource<Session?>(TaskCreationOptions.RunContinuationsAsynchronously);
        // Each lookup returns at its first await: all 32 are misses under way at once.
        var lookups = Enumerable.Range(0, 32).Select(_ => cache.GetSessionAsync("session-1", () =>
        {
            loads++;
            return reading.Task;
        }).AsTask()).ToList();

        reading.SetResult(session);

        Assert.All(await Task.WhenAll(lookups), found => Assert.Same(session, found));
        Assert.Equal(1, loads);
    }

    [Fact]
    public async Task A_failed_load_is_not_shared_with_the_next_caller()
    {
        var cache = NewCache(TimeSpan.FromSeconds(2));
        var failing = new TaskCompletionSource<Session?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = cache.GetSessionAsync("session-1", () => failing.Task).AsTask();
        var joined = cache.GetSessionAsync("session-1", () => Load(NewSession())).AsTask();

        failing.SetException(new TimeoutException("store unavailable"));

        await Assert.ThrowsAsync<TimeoutException>(() => first);
        await Assert.ThrowsAsync<TimeoutException>(() => joined);
        var session = NewSession();
        Assert.Same(session, await cache.GetSessionAsync("session-1", () => Load(session)));
        Assert.Same(session, await cache.GetSessionAsync("session-1", () => Load(NewSession())));
        Assert.Equal(1, loads);
    }

    [Fact]
    public async Task A_caller_that_stops_waiting_does_not_cancel_the_load_for_the_others()
    {
        var cache = NewCache(TimeSpan.FromSeconds(2));
        var token = NewToken();
        var reading = new TaskCompletionSource<ApiToken?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var given = new List<CancellationToken>();
        Func<ApiToken?, CancellationToken, Task<ApiToken?>> read = (_, ct) =>
        {
            given.Add(ct);
            return reading.Task;
        };

        using var impatient = new CancellationTokenSource();
        var first = cache.GetTokenAsync(token.Digest, read, impatient.Token).AsTask();
        var second = cache.GetTokenAsync(token.Digest, read, default).AsTask();
        await impatient.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
        reading.SetResult(token);
        Assert.Same(token, await second);
        Assert.Equal(CancellationToken.None, Assert.Single(given));
    }

    [Fact]
    public async Task A_load_cancelled_by_the_token_its_starter_captured_is_loaded_again_by_the_others()
    {
        var cache = NewCache(TimeSpan.FromSeconds(2));
        var reading = new TaskCompletionSource<Session?>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var aborted = new CancellationTokenSource();
        var first = cache.GetSessionAsync("session-1", () => reading.Task.WaitAsync(aborted.Token)).AsTask();
        var session = NewSession();
        var second = cache.GetSessionAsync("session-1", () => Load(session)).AsTask();

        await aborted.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
        Assert.Same(session, await second);
        Assert.Equal(1, loads);
    }

    [Fact]
    public async Task A_lookup_after_an_eviction_does_not_join_a_load_begun_before_it()
    {
        // A revoke evicts while a load that read the token before it is still under way: a request after the revoke
        // must not take that read, and the read must not be cached for the requests after that.
        var cache = NewCache(TimeSpan.FromMinutes(1));
        var stale = NewSession();
        var reading = new TaskCompletionSource<Session?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var before = cache.GetSessionAsync("session-1", () => reading.Task).AsTask();
        var joined = cache.GetSessionAsync("session-1", () => Load(stale)).AsTask();

        cache.EvictSession("session-1");
        var revoked = stale with { RevokedAt = clock.GetUtcNow() };
        var after = await cache.GetSessionAsync("session-1", () => Load(revoked));
        reading.SetResult(stale);

        Assert.Same(revoked, after);
        Assert.Same(stale, await before);
        Assert.Same(stale, await joined);
        Assert.Same(revoked, await cache.GetSessionAsync("session-1", () => Load(stale)));
        Assert.Equal(1, loads);
    }

    [Fact]
    public async Task An_expired_token_is_loaded_with_its_cached_copy_and_a_missing_one_without()
    {
        var cache = NewCache(TimeSpan.FromSeconds(2));
        var token = NewToken();
        var known = new List<ApiToken?>();
        Func<ApiToken?, CancellationToken, Task<ApiToken?>> read = (cached, _) =>
        {
            known.Add(cached);
            return Task.FromResult<ApiToken?>(token with { });
        };

        var first = await cache.GetTokenAsync(token.Digest, read, default);
        clock.Advance(TimeSpan.FromSeconds(2));
        var second = await cache.GetTokenAsync(token.Digest, read, default);
        cache.EvictToken(token.Digest);
        await cache.GetTokenAsync(token.Digest, read, default);

        Assert.Equal(3, known.Count);
        Assert.Null(known[0]);
        Assert.Same(first, known[1]);
        Assert.Null(known[2]);
        Assert.NotSame(first, second);
    }

    private ApiToken NewToken() => new()
    {
        Id = "token-1", UserId = "user-1", Name = "gateway", Prefix = "iron_abc", Digest = [1, 2, 3], Scopes = ["tokens:verify"],
        CreatedAt = clock.GetUtcNow(), ExpiresAt = clock.GetUtcNow().AddDays(1),
    };
}
