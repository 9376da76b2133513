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
/// <para>
/// Concurrent misses for one key share one load (when an entry expires under load, every request for it misses at
/// once: without sharing, each would read the store itself). A caller joins only a load started since the last
/// eviction, so a request that begins after a revocation or logout never takes the answer of a read made before it.
/// The shared load is no one caller's: it runs without a cancellation token and each caller stops waiting on its own.
/// A load that fails or is cancelled is forgotten before its waiters hear of it, so the next lookup loads again.
/// </para>
/// </remarks>
public sealed class CredentialCache(IOptions<IronAuthOptions> options, TimeProvider time, IronAuthMetrics metrics)
{
    private const int MaxEntries = 100_000;
    private readonly Section<ApiToken> tokens = new();
    private readonly Section<Session> sessions = new();
    private readonly Section<User> users = new();
    private long evictions;

    private TimeSpan Ttl => options.Value.Tokens.CacheTtl;

    /// <summary>The token with this digest, from the cache or read by <paramref name="load"/>.</summary>
    /// <param name="load">
    /// Reads the token: given the expired entry when there is one, so that the store can read it again by what cannot
    /// change (<see cref="IApiTokenStore.RefreshAsync"/>), and null otherwise (<see cref="IApiTokenStore.FindByDigestAsync"/>).
    /// A load shared by concurrent callers is given <see cref="CancellationToken.None"/>.
    /// </param>
    /// <param name="cancellationToken">Stops this caller waiting; a load others share goes on.</param>
    // ValueTask: a hit (nearly every call under load) completes synchronously and allocates nothing.
    public ValueTask<ApiToken?> GetTokenAsync(byte[] digest, Func<ApiToken?, CancellationToken, Task<ApiToken?>> load, CancellationToken cancellationToken) =>
        GetTokenAsync(digest, load, static (load, known, ct) => load(known, ct), cancellationToken);

    /// <summary>
    /// As <see cref="GetTokenAsync(byte[], Func{ApiToken?, CancellationToken, Task{ApiToken?}}, CancellationToken)"/>, with
    /// what the load needs passed as <paramref name="state"/>: a hit allocates no closure.
    /// </summary>
    public ValueTask<ApiToken?> GetTokenAsync<TState>(
        byte[] digest, TState state, Func<TState, ApiToken?, CancellationToken, Task<ApiToken?>> load, CancellationToken cancellationToken) =>
        GetAsync(tokens, CacheKind.Token, Convert.ToBase64String(digest), state, load, cancellationToken);

    /// <summary>
    /// The session, from the cache or read by <paramref name="load"/>. Concurrent misses share the first caller's load,
    /// cancellation token and all: when that caller gives up, the others load again with their own.
    /// </summary>
    public ValueTask<Session?> GetSessionAsync(string id, Func<Task<Session?>> load) => GetSessionAsync(id, load, static load => load());

    /// <summary>As <see cref="GetSessionAsync(string, Func{Task{Session?}})"/>, with the load's <paramref name="state"/>.</summary>
    public ValueTask<Session?> GetSessionAsync<TState>(string id, TState state, Func<TState, Task<Session?>> load) =>
        GetAsync(sessions, CacheKind.Session, id, (state, load), static (s, _, _) => s.load(s.state), CancellationToken.None);

    /// <summary>The user, from the cache or read by <paramref name="load"/>, shared as <see cref="GetSessionAsync(string, Func{Task{Session?}})"/>'s is.</summary>
    public ValueTask<User?> GetUserAsync(string id, Func<Task<User?>> load) => GetUserAsync(id, load, static load => load());

    /// <summary>As <see cref="GetUserAsync(string, Func{Task{User?}})"/>, with the load's <paramref name="state"/>.</summary>
    public ValueTask<User?> GetUserAsync<TState>(string id, TState state, Func<TState, Task<User?>> load) =>
        GetAsync(users, CacheKind.User, id, (state, load), static (s, _, _) => s.load(s.state), CancellationToken.None);

    public void EvictToken(byte[] digest) => Evict(tokens, Convert.ToBase64String(digest));

    public void EvictSession(string id) => Evict(sessions, id);

    public void EvictUser(string id) => Evict(users, id);

    public void EvictTokensOf(string userId) => EvictWhere(tokens, token => token.UserId == userId);

    /// <summary>Evicts every cached token made by another token (after a revocation that may have reached descendants).</summary>
    public void EvictTokensMadeByTokens() => EvictWhere(tokens, token => token.ParentId is not null);

    public void EvictSessionsOf(string userId) => EvictWhere(sessions, session => session.UserId == userId);

    private void Evict<T>(Section<T> section, string key)
        where T : class
    {
        Interlocked.Increment(ref evictions);
        section.Entries.TryRemove(key, out _);
    }

    private void EvictWhere<T>(Section<T> section, Func<T, bool> match)
        where T : class
    {
        Interlocked.Increment(ref evictions);
        foreach (var (key, entry) in section.Entries)
        {
            if (match(entry.Value))
            {
                section.Entries.TryRemove(key, out _);
            }
        }
    }

    private ValueTask<T?> GetAsync<T, TState>(
        Section<T> section, CacheKind kind, string key, TState state, Func<TState, T?, CancellationToken, Task<T?>> load, CancellationToken cancellationToken)
        where T : class
    {
        var now = time.GetUtcNow();
        if (Ttl <= TimeSpan.Zero)
        {
            metrics.CacheLookup(kind, hit: false);
            return new ValueTask<T?>(load(state, null, cancellationToken));
        }

        var found = section.Entries.TryGetValue(key, out var cached);
        var hit = found && cached!.Expires > now;
        metrics.CacheLookup(kind, hit);
        return hit ? new ValueTask<T?>(cached!.Value) : LoadAsync(section, key, found ? cached!.Value : null, Bind(state, load), now, cancellationToken);
    }

    // Apart from GetAsync: a lambda capturing its parameters would allocate its closure on every call, hits included.
    private static Func<T?, CancellationToken, Task<T?>> Bind<T, TState>(TState state, Func<TState, T?, CancellationToken, Task<T?>> load)
        where T : class =>
        (expired, cancellationToken) => load(state, expired, cancellationToken);

    private async ValueTask<T?> LoadAsync<T>(
        Section<T> section, string key, T? expired, Func<T?, CancellationToken, Task<T?>> load, DateTimeOffset now, CancellationToken cancellationToken)
        where T : class
    {
        while (true)
        {
            var generation = Volatile.Read(ref evictions);
            Flight<T>? started = null;
            if (!section.Loads.TryGetValue(key, out var flight) || flight.Generation < generation)
            {
                // None under way, or one that began before an eviction (it may have read what was evicted): start one.
                started = new Flight<T>(generation);
                if (flight is null ? !section.Loads.TryAdd(key, started) : !section.Loads.TryUpdate(key, started, flight))
                {
                    continue;
                }

                flight = started;
                _ = RunAsync(section, key, started, expired, load, now);
            }

            try
            {
                return await flight.Result.Task.WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException) when (flight != started && !cancellationToken.IsCancellationRequested)
            {
                // Cancelled by the token of the caller that started it (a loader that captured its own): load again.
            }
        }
    }

    private async Task RunAsync<T>(Section<T> section, string key, Flight<T> flight, T? expired, Func<T?, CancellationToken, Task<T?>> load, DateTimeOffset now)
        where T : class
    {
        T? value;
        try
        {
            value = await load(expired, CancellationToken.None);
        }
        catch (Exception e)
        {
            // Forgotten before anyone hears of the failure: the next lookup loads again instead of joining this one.
            section.Loads.TryRemove(KeyValuePair.Create(key, flight));
            if (e is OperationCanceledException cancelled)
            {
                flight.Result.SetCanceled(cancelled.CancellationToken);
            }
            else
            {
                flight.Result.SetException(e);
            }

            return;
        }

        if (value is not null)
        {
            Keep(section, key, value, flight.Generation, now);
        }

        // After the entry is written (a lookup in between hits it) and before the waiters resume; an unknown
        // credential is not cached, so the next lookup for it loads again.
        section.Loads.TryRemove(KeyValuePair.Create(key, flight));
        flight.Result.SetResult(value);
    }

    private void Keep<T>(Section<T> section, string key, T value, long generation, DateTimeOffset now)
        where T : class
    {
        // Not even written when an eviction came first: a load begun since may have cached a newer read here.
        if (Volatile.Read(ref evictions) != generation)
        {
            return;
        }

        if (section.Entries.Count >= MaxEntries)
        {
            section.Entries.Clear();
        }

        // Checked after the write: an eviction counted later than this check removes after the write, so either
        // way a value read before an eviction does not outlive it.
        var entry = new Entry<T>(value, now + Ttl);
        section.Entries[key] = entry;
        if (Volatile.Read(ref evictions) != generation)
        {
            section.Entries.TryRemove(KeyValuePair.Create(key, entry));
        }
    }

    /// <summary>One kind of credential: the cached entries and the loads under way.</summary>
    private sealed class Section<T>
        where T : class
    {
        public ConcurrentDictionary<string, Entry<T>> Entries { get; } = new(StringComparer.Ordinal);

        public ConcurrentDictionary<string, Flight<T>> Loads { get; } = new(StringComparer.Ordinal);
    }

    private sealed record Entry<T>(T Value, DateTimeOffset Expires);

    /// <summary>A load under way, begun when <see cref="evictions"/> stood at <paramref name="generation"/>.</summary>
    private sealed class Flight<T>(long generation)
    {
        public long Generation => generation;

        public TaskCompletionSource<T?> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
