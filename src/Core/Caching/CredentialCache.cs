using System.Collections.Concurrent;
using IronAuth.Core.Configuration;
using IronAuth.Core.Sessions;
using IronAuth.Core.Telemetry;
using IronAuth.Core.Tokens;
using IronAuth.Core.Users;
using Microsoft.Extensions.Options;

namespace IronAuth.Core.Caching;

/// <summary>
/// A short-lived in-process cache of what authenticating a request reads: API tokens (by digest), sessions
/// (for access JWTs) and users, so a request is not one or two store reads every time. Changes made through
/// this process (revoke, logout, password change, suspend, delete, role change) evict at once; changes made by
/// another instance are seen within <see cref="TokenOptions.CacheTtl"/>. Only hits are cached, so unknown
/// credentials cannot fill it.
/// </summary>
/// <remarks>
/// A load that was under way while anything was evicted is not kept: it may have read the row just before the
/// change that caused the eviction, and caching it would undo the eviction for a whole TTL.
/// </remarks>
public sealed class CredentialCache(IOptions<IronAuthOptions> options, TimeProvider time, IronAuthMetrics metrics)
{
    private const int MaxEntries = 100_000;
    private readonly ConcurrentDictionary<string, Entry<ApiToken>> tokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Entry<Session>> sessions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Entry<User>> users = new(StringComparer.Ordinal);
    private long evictions;

    private TimeSpan Ttl => options.Value.Tokens.CacheTtl;

    // ValueTask: a hit (nearly every call under load) completes synchronously and allocates nothing.
    public ValueTask<ApiToken?> GetTokenAsync(byte[] digest, Func<Task<ApiToken?>> load) =>
        GetAsync(tokens, CacheKind.Token, Convert.ToBase64String(digest), load);

    public ValueTask<Session?> GetSessionAsync(string id, Func<Task<Session?>> load) => GetAsync(sessions, CacheKind.Session, id, load);

    public ValueTask<User?> GetUserAsync(string id, Func<Task<User?>> load) => GetAsync(users, CacheKind.User, id, load);

    public void EvictToken(byte[] digest) => Evict(tokens, Convert.ToBase64String(digest));

    public void EvictSession(string id) => Evict(sessions, id);

    public void EvictUser(string id) => Evict(users, id);

    public void EvictTokensOf(string userId) => EvictWhere(tokens, token => token.UserId == userId);

    /// <summary>Evicts every cached token made by another token (after a revocation that may have reached descendants).</summary>
    public void EvictTokensMadeByTokens() => EvictWhere(tokens, token => token.ParentId is not null);

    public void EvictSessionsOf(string userId) => EvictWhere(sessions, session => session.UserId == userId);

    private void Evict<T>(ConcurrentDictionary<string, Entry<T>> entries, string key)
    {
        Interlocked.Increment(ref evictions);
        entries.TryRemove(key, out _);
    }

    private void EvictWhere<T>(ConcurrentDictionary<string, Entry<T>> entries, Func<T, bool> match)
    {
        Interlocked.Increment(ref evictions);
        foreach (var (key, entry) in entries)
        {
            if (match(entry.Value))
            {
                entries.TryRemove(key, out _);
            }
        }
    }

    private ValueTask<T?> GetAsync<T>(ConcurrentDictionary<string, Entry<T>> entries, CacheKind kind, string key, Func<Task<T?>> load)
        where T : class
    {
        var now = time.GetUtcNow();
        if (Ttl <= TimeSpan.Zero)
        {
            metrics.CacheLookup(kind, hit: false);
            return new ValueTask<T?>(load());
        }

        var hit = entries.TryGetValue(key, out var cached) && cached.Expires > now;
        metrics.CacheLookup(kind, hit);
        return hit ? new ValueTask<T?>(cached!.Value) : LoadAsync(entries, key, load, now);
    }

    private async ValueTask<T?> LoadAsync<T>(ConcurrentDictionary<string, Entry<T>> entries, string key, Func<Task<T?>> load, DateTimeOffset now)
        where T : class
    {
        var generation = Volatile.Read(ref evictions);
        var value = await load();
        if (value is null)
        {
            return null;
        }

        if (entries.Count >= MaxEntries)
        {
            entries.Clear();
        }

        // Checked after the write: an eviction counted later than this check removes after the write, so either
        // way a value read before an eviction does not outlive it.
        var entry = new Entry<T>(value, now + Ttl);
        entries[key] = entry;
        if (Volatile.Read(ref evictions) != generation)
        {
            entries.TryRemove(new KeyValuePair<string, Entry<T>>(key, entry));
        }

        return value;
    }

    private sealed record Entry<T>(T Value, DateTimeOffset Expires);
}
