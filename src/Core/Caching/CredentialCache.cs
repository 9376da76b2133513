using System.Collections.Concurrent;
using IronAuth.Core.Configuration;
using IronAuth.Core.Tokens;
using IronAuth.Core.Users;
using Microsoft.Extensions.Options;

namespace IronAuth.Core.Caching;

/// <summary>
/// A short-lived in-process cache of API tokens (by digest) and their owners, so verifying a token is not
/// two store reads every time. Changes made through this process (revoke, suspend, delete, role change)
/// evict at once; changes made by another instance are seen within <see cref="TokenOptions.CacheTtl"/>.
/// Only hits are cached, so unknown tokens cannot fill it.
/// </summary>
public sealed class CredentialCache(IOptions<IronAuthOptions> options, TimeProvider time)
{
    private const int MaxEntries = 100_000;
    private readonly ConcurrentDictionary<string, Entry<ApiToken>> tokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Entry<User>> users = new(StringComparer.Ordinal);

    private TimeSpan Ttl => options.Value.Tokens.CacheTtl;

    public async Task<ApiToken?> GetTokenAsync(byte[] digest, Func<Task<ApiToken?>> load) =>
        await GetAsync(tokens, Convert.ToBase64String(digest), load);

    public async Task<User?> GetUserAsync(string id, Func<Task<User?>> load) => await GetAsync(users, id, load);

    public void EvictToken(byte[] digest) => tokens.TryRemove(Convert.ToBase64String(digest), out _);

    public void EvictUser(string id) => users.TryRemove(id, out _);

    public void EvictTokensOf(string userId)
    {
        foreach (var (key, entry) in tokens)
        {
            if (entry.Value.UserId == userId)
            {
                tokens.TryRemove(key, out _);
            }
        }
    }

    private async Task<T?> GetAsync<T>(ConcurrentDictionary<string, Entry<T>> entries, string key, Func<Task<T?>> load)
        where T : class
    {
        var now = time.GetUtcNow();
        if (Ttl > TimeSpan.Zero && entries.TryGetValue(key, out var cached) && cached.Expires > now)
        {
            return cached.Value;
        }

        var value = await load();
        if (value is not null && Ttl > TimeSpan.Zero)
        {
            if (entries.Count >= MaxEntries)
            {
                entries.Clear();
            }

            entries[key] = new Entry<T>(value, now + Ttl);
        }

        return value;
    }

    private sealed record Entry<T>(T Value, DateTimeOffset Expires);
}
