using System.Diagnostics;
using System.Text;
using IronAuth.Core.Configuration;
using IronAuth.Core.Telemetry;
using Microsoft.Extensions.Options;

namespace IronAuth.Core.Passwords;

/// <summary>The outcome of checking a password against a stored hash.</summary>
public enum PasswordVerdict
{
    Mismatch,
    Match,

    /// <summary>The password matched a hash made with a lower work factor than configured: store a new hash.</summary>
    MatchNeedsRehash,
}

/// <summary>
/// bcrypt hashing with bounded concurrency. Each hash costs ~240 ms of one core at work factor 12,
/// so at most <see cref="PasswordOptions.MaxConcurrentHashes"/> run at once and the rest queue:
/// a login flood then slows logins, not every other request on the machine. The wait for a slot and the
/// time in it are the <c>ironauth.password_hash.queue_time</c> and <c>.duration</c> histograms.
/// </summary>
public sealed class PasswordHasher : IDisposable
{
    private readonly SemaphoreSlim slots;
    private readonly PasswordOptions options;
    private readonly IronAuthMetrics metrics;
    private readonly Lazy<string> dummyHash;
    private long verifications;

    public PasswordHasher(IOptions<IronAuthOptions> options, IronAuthMetrics metrics)
    {
        this.options = options.Value.Passwords;
        this.metrics = metrics;
        slots = new SemaphoreSlim(this.options.MaxConcurrentHashes, this.options.MaxConcurrentHashes);
        // Unknown usernames are checked against this hash so they cost the same as a wrong password.
        dummyHash = new Lazy<string>(() => BCrypt.Net.BCrypt.HashPassword(Ids.NewSecret(), this.options.BcryptWorkFactor));
    }

    public static Failure Busy { get; } =
        new(FailureKind.Unavailable, "server_busy", "Too many sign-ins are being processed; try again shortly.")
        {
            RetryAfter = TimeSpan.FromSeconds(1),
        };

    /// <summary>Hashes a password; null when no hashing slot freed up in time.</summary>
    public Task<string?> HashAsync(string password, CancellationToken cancellationToken) =>
        RunAsync(() => BCrypt.Net.BCrypt.HashPassword(password, options.BcryptWorkFactor), cancellationToken);

    /// <summary>Checks a password; null when no hashing slot freed up in time.</summary>
    public Task<PasswordVerdict?> VerifyAsync(string password, string? hash, CancellationToken cancellationToken) =>
        RunAsync(() => (PasswordVerdict?)Check(password, hash), cancellationToken);

    /// <summary>
    /// Takes a hashing slot first, then asks <paramref name="admit"/> for the hash to check against (or a refusal),
    /// then checks. <see cref="Busy"/> when no slot freed up in time, and then <paramref name="admit"/> was never
    /// called: whatever it records (a lockout reservation) is only ever recorded for a password that is then checked.
    /// </summary>
    public async Task<Result<PasswordVerdict>> VerifyAdmittedAsync(
        string password, Func<Task<Result<string>>> admit, CancellationToken cancellationToken)
    {
        if (!await TakeSlotAsync(cancellationToken))
        {
            return Busy;
        }

        try
        {
            var admitted = await admit();
            if (admitted.Failure is { } refused)
            {
                return refused;
            }

            // Only the check: what admit read from the store is not hashing time.
            var started = Stopwatch.GetTimestamp();
            var verdict = Check(password, admitted.Value);
            metrics.PasswordHashed(Stopwatch.GetElapsedTime(started));
            return verdict;
        }
        finally
        {
            slots.Release();
        }
    }

    /// <summary>bcrypt verifications run so far, the dummy ones included.</summary>
    public long Verifications => Interlocked.Read(ref verifications);

    public void Dispose() => slots.Dispose();

    private PasswordVerdict Check(string password, string? hash)
    {
        // Oversized input can never match a policy-made hash; it still costs one hash so timing says nothing.
        var usable = hash is not null && Encoding.UTF8.GetByteCount(password) <= PasswordLimits.MaxBytes;
        Interlocked.Increment(ref verifications);
        if (!Verify(password, usable ? hash! : dummyHash.Value) || !usable)
        {
            return PasswordVerdict.Mismatch;
        }

        return BCrypt.Net.BCrypt.PasswordNeedsRehash(hash!, options.BcryptWorkFactor) ? PasswordVerdict.MatchNeedsRehash : PasswordVerdict.Match;
    }

    private static bool Verify(string password, string hash)
    {
        try
        {
            return BCrypt.Net.BCrypt.Verify(password, hash);
        }
        catch (BCrypt.Net.SaltParseException)
        {
            return false;
        }
    }

    private async Task<T?> RunAsync<T>(Func<T> work, CancellationToken cancellationToken)
    {
        if (!await TakeSlotAsync(cancellationToken))
        {
            return default;
        }

        try
        {
            var started = Stopwatch.GetTimestamp();
            var result = work();
            metrics.PasswordHashed(Stopwatch.GetElapsedTime(started));
            return result;
        }
        finally
        {
            slots.Release();
        }
    }

    // Durations by Stopwatch, not the injected TimeProvider: they measure this machine's CPU and queue, which a
    // test's clock does not move.
    private async Task<bool> TakeSlotAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var taken = await slots.WaitAsync(options.HashQueueTimeout, cancellationToken);
        metrics.PasswordHashQueued(Stopwatch.GetElapsedTime(started));
        return taken;
    }
}
