using System.Diagnostics.Metrics;
using IronAuth.Core.Tokens;

namespace IronAuth.Core.Telemetry;

/// <summary>How a password sign-in ended, as the <c>outcome</c> label of <c>ironauth.logins</c>.</summary>
public enum LoginOutcome
{
    Succeeded,
    InvalidCredentials,
    Locked,
    Suspended,
    Throttled,
    Unavailable,
}

/// <summary>How a refresh-token redemption ended, as the <c>outcome</c> label of <c>ironauth.refreshes</c>.</summary>
public enum RefreshOutcome
{
    Rotated,
    Reused,
    Invalid,
}

/// <summary>What the credential cache was asked for, as the <c>kind</c> label of <c>ironauth.credential_cache.lookups</c>.</summary>
public enum CacheKind
{
    Token,
    Session,
    User,
}

/// <summary>How a maintenance run ended, as the <c>outcome</c> label of <c>ironauth.maintenance.runs</c>.</summary>
public enum MaintenanceOutcome
{
    /// <summary>Everything due was purged.</summary>
    Completed,

    /// <summary>The run's time budget ran out first; the next run goes on.</summary>
    Incomplete,

    /// <summary>Another instance held the lease.</summary>
    Skipped,
}

/// <summary>What maintenance purged, as the <c>kind</c> label of <c>ironauth.maintenance.purged</c>.</summary>
public enum PurgeKind
{
    Sessions,
    RefreshTokens,
    ApiTokens,
    PasswordResets,
    RateBuckets,
    UsageDays,
    UsageRequests,
    EmailCodes,
    MfaChallenges,
}

/// <summary>
/// IronAuth's own metrics (meter <c>IronAuth</c>), named by OpenTelemetry's rules: dotted lower-case names,
/// UCUM units (<c>s</c>, <c>{login}</c>), no <c>_total</c> suffix (Prometheus adds it). No exporter lives in Core:
/// a host that wants them listens to <see cref="MeterName"/>.
/// </summary>
/// <remarks>
/// Every label value is one of the closed sets above or a verdict's wire code, never a username, token id or
/// address: a scrape may be shown to whoever watches the service's health, and the number of series stays bounded.
/// The meter comes from the host's <see cref="IMeterFactory"/>, so each service provider (each server of a test
/// run) has its own.
/// <para>
/// The counters are counted here, per instance (<see cref="StripedCounts"/>), and published as observable counters
/// that report this instance's totals when a reader collects: counting a login or a cache lookup is one interlocked
/// add whether or not anything listens, where a listened-to <see cref="Counter{T}"/> looked its tags up in the SDK's
/// shared store on every request. The names, units, descriptions and label values are the same as a counter's would
/// be, and a series appears once its outcome has been counted. The histograms stay histograms: they are recorded
/// once per password hash, which costs far more.
/// </para>
/// </remarks>
public sealed class IronAuthMetrics : IDisposable
{
    public const string MeterName = "IronAuth";

    private static readonly KeyValuePair<string, object?>[] LoginTags =
        Tags<LoginOutcome>("outcome", ["succeeded", "invalid_credentials", "locked", "suspended", "throttled", "unavailable"]);

    private static readonly KeyValuePair<string, object?>[] RefreshTags = Tags<RefreshOutcome>("outcome", ["rotated", "reused", "invalid"]);

    private static readonly KeyValuePair<string, object?>[] VerdictTags =
        [.. Enum.GetValues<VerdictCode>().Select(code => new KeyValuePair<string, object?>("verdict", TokenVerdict.ToWire(code)))];

    private static readonly KeyValuePair<string, object?>[] CacheKindTags = Tags<CacheKind>("kind", ["token", "session", "user"]);

    private static readonly KeyValuePair<string, object?> Hit = new("result", "hit");

    private static readonly KeyValuePair<string, object?> Miss = new("result", "miss");

    private static readonly KeyValuePair<string, object?>[] MaintenanceTags =
        Tags<MaintenanceOutcome>("outcome", ["completed", "incomplete", "skipped"]);

    private static readonly KeyValuePair<string, object?>[] PurgeTags =
        Tags<PurgeKind>("kind", ["sessions", "refresh_tokens", "api_tokens", "password_resets", "rate_buckets", "usage_days", "usage_requests", "email_codes", "mfa_challenges"]);

    // One tag set per counted index. A cache lookup's index is its kind's times two, plus one for a miss.
    private static readonly KeyValuePair<string, object?>[][] CacheLookupTags = [.. CacheKindTags.SelectMany(kind => new[] { new[] { kind, Hit }, [kind, Miss] })];

    // bcrypt at work factor 12 takes ~0.25 s; a queue worth watching is seconds long.
    private static readonly double[] SecondsBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly Meter meter;
    private readonly bool ownsMeter;
    private readonly StripedCounts logins = new(LoginTags.Length);
    private readonly StripedCounts refreshes = new(RefreshTags.Length);
    private readonly StripedCounts verifications = new(VerdictTags.Length);
    private readonly StripedCounts cacheLookups = new(CacheLookupTags.Length);
    private readonly StripedCounts maintenanceRuns = new(MaintenanceTags.Length);
    private readonly StripedCounts maintenancePurged = new(PurgeTags.Length);
    private readonly Histogram<double> hashQueueTime;
    private readonly Histogram<double> hashDuration;

    /// <summary>A meter from <paramref name="meterFactory"/> when the host registers one (every .NET host does), else one of its own.</summary>
    public IronAuthMetrics(IMeterFactory? meterFactory = null)
    {
        var meterOptions = new MeterOptions(MeterName) { Version = typeof(IronAuthMetrics).Assembly.GetName().Version?.ToString() };
        ownsMeter = meterFactory is null;
        meter = meterFactory?.Create(meterOptions) ?? new Meter(meterOptions);
        Observe(logins, LoginTags, "ironauth.logins", "{login}", "Password sign-ins (the API's and the OAuth password grant) by outcome");
        Observe(refreshes, RefreshTags, "ironauth.refreshes", "{refresh}", "Refresh-token redemptions by outcome");
        Observe(verifications, VerdictTags, "ironauth.token_verifications", "{verification}", "API-token uses checked, by verdict");
        var seconds = new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets };
        hashQueueTime = meter.CreateHistogram("ironauth.password_hash.queue_time", "s", "Time spent waiting for a bounded password-hashing slot", advice: seconds);
        hashDuration = meter.CreateHistogram("ironauth.password_hash.duration", "s", "Time one bcrypt hash or check took in its slot", advice: seconds);
        Observe(cacheLookups, CacheLookupTags, "ironauth.credential_cache.lookups", "{lookup}", "Credential cache lookups by result (hit, miss) and kind");
        Observe(maintenanceRuns, MaintenanceTags, "ironauth.maintenance.runs", "{run}", "Maintenance runs by outcome");
        Observe(maintenancePurged, PurgeTags, "ironauth.maintenance.purged", "{item}", "Records maintenance purged, by kind");
    }

    internal Meter Meter => meter;

    /// <summary>Every label value this class can write, by label: what tests and dashboards may rely on.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> LabelValues { get; } = new Dictionary<string, IReadOnlyList<string>>
    {
        ["ironauth.logins/outcome"] = Values(LoginTags),
        ["ironauth.refreshes/outcome"] = Values(RefreshTags),
        ["ironauth.token_verifications/verdict"] = Values(VerdictTags),
        ["ironauth.credential_cache.lookups/kind"] = Values(CacheKindTags),
        ["ironauth.credential_cache.lookups/result"] = Values([Hit, Miss]),
        ["ironauth.maintenance.runs/outcome"] = Values(MaintenanceTags),
        ["ironauth.maintenance.purged/kind"] = Values(PurgeTags),
    };

    /// <summary>A password sign-in ended with <paramref name="outcome"/>.</summary>
    public void Login(LoginOutcome outcome) => logins.Increment((int)outcome);

    /// <summary>A refresh token was presented and its redemption ended with <paramref name="outcome"/>.</summary>
    public void Refresh(RefreshOutcome outcome) => refreshes.Increment((int)outcome);

    /// <summary>An API-token use was checked and got <paramref name="verdict"/>.</summary>
    public void TokenVerified(VerdictCode verdict) => verifications.Increment((int)verdict);

    /// <summary>A password hash or check waited <paramref name="waited"/> for a slot (whether or not it got one).</summary>
    public void PasswordHashQueued(TimeSpan waited) => hashQueueTime.Record(waited.TotalSeconds);

    /// <summary>A password hash or check took <paramref name="took"/> in its slot.</summary>
    public void PasswordHashed(TimeSpan took) => hashDuration.Record(took.TotalSeconds);

    /// <summary>The credential cache answered a lookup of <paramref name="kind"/> from memory (<paramref name="hit"/>) or the store.</summary>
    public void CacheLookup(CacheKind kind, bool hit) => cacheLookups.Increment(((int)kind * 2) + (hit ? 0 : 1));

    /// <summary>A maintenance run ended with <paramref name="outcome"/>.</summary>
    public void MaintenanceRun(MaintenanceOutcome outcome) => maintenanceRuns.Increment((int)outcome);

    /// <summary>Maintenance purged <paramref name="count"/> records of <paramref name="kind"/>.</summary>
    public void Purged(PurgeKind kind, int count)
    {
        if (count > 0)
        {
            maintenancePurged.Add((int)kind, count);
        }
    }

    public void Dispose()
    {
        if (ownsMeter)
        {
            meter.Dispose();
        }
    }

    private void Observe(StripedCounts counts, KeyValuePair<string, object?>[] tags, string name, string unit, string description) =>
        Observe(counts, [.. tags.Select(tag => new[] { tag })], name, unit, description);

    // The callback closes over this instance's counts: a reader of this meter sees this instance's counts only.
    private void Observe(StripedCounts counts, KeyValuePair<string, object?>[][] tags, string name, string unit, string description) =>
        meter.CreateObservableCounter(name, () => counts.Measurements(tags), unit, description);

    private static KeyValuePair<string, object?>[] Tags<TEnum>(string key, string[] values)
        where TEnum : struct, Enum
    {
        // One value per member, in declaration order, so a member's int indexes its tag.
        if (values.Length != Enum.GetValues<TEnum>().Length)
        {
            throw new InvalidOperationException($"{typeof(TEnum).Name} needs one label value per member.");
        }

        return [.. values.Select(value => new KeyValuePair<string, object?>(key, value))];
    }

    private static string[] Values(KeyValuePair<string, object?>[] tags) => [.. tags.Select(tag => (string)tag.Value!)];
}
