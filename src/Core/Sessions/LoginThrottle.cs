using System.Collections.Concurrent;
using IronAuth.Core.Configuration;
using Microsoft.Extensions.Options;

namespace IronAuth.Core.Sessions;

/// <summary>
/// Per-client-IP fixed-window limit on login attempts (<see cref="LoginOptions.PerIpPerMinute"/>).
/// Kept in process memory: each instance of a scaled-out deployment counts its own share.
/// </summary>
public sealed class LoginThrottle(IOptions<IronAuthOptions> options, TimeProvider time)
{
    private const int PruneThreshold = 10_000;
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    private readonly ConcurrentDictionary<string, Counter> counters = new(StringComparer.Ordinal);

    /// <summary>Counts one attempt; returns how long to wait when the client is over its limit.</summary>
    public TimeSpan? TryAcquire(string? clientIp)
    {
        var now = time.GetUtcNow();
        if (counters.Count > PruneThreshold)
        {
            Prune(now);
        }

        var counter = counters.GetOrAdd(clientIp ?? "unknown", _ => new Counter());
        lock (counter)
        {
            if (now >= counter.WindowStart + Window)
            {
                counter.WindowStart = now;
                counter.Count = 0;
            }

            if (counter.Count >= options.Value.Login.PerIpPerMinute)
            {
                var wait = counter.WindowStart + Window - now;
                return wait > TimeSpan.Zero ? wait : TimeSpan.FromSeconds(1);
            }

            counter.Count++;
            return null;
        }
    }

    private void Prune(DateTimeOffset now)
    {
        foreach (var (key, counter) in counters)
        {
            if (now >= counter.WindowStart + Window)
            {
                counters.TryRemove(key, out _);
            }
        }
    }

    private sealed class Counter
    {
        public DateTimeOffset WindowStart { get; set; }

        public int Count { get; set; }
    }
}
