namespace IronAuth.Core.Configuration;

/// <summary>Which store IronAuth keeps its state in.</summary>
public enum StoreKind
{
    Sqlite,
    Tables,
}

/// <summary>The <c>IronAuth</c> configuration section. Defaults are the documented ones.</summary>
public sealed class IronAuthOptions
{
    public const string SectionName = "IronAuth";

    public StoreKind Store { get; set; } = StoreKind.Sqlite;

    public SqliteOptions Sqlite { get; set; } = new();

    public TablesOptions Tables { get; set; } = new();

    public BootstrapOptions Bootstrap { get; set; } = new();

    public PasswordOptions Passwords { get; set; } = new();

    public JwtOptions Jwt { get; set; } = new();

    public LoginOptions Login { get; set; } = new();

    public TokenOptions Tokens { get; set; } = new();

    public RateLimitOptions RateLimits { get; set; } = new();

    public QuotaOptions Quotas { get; set; } = new();

    public MaintenanceOptions Maintenance { get; set; } = new();

    /// <summary>Agent budgets, IC tokens and leases (<see cref="BudgetOptions"/>).</summary>
    public BudgetOptions Budgets { get; set; } = new();
}

public sealed class SqliteOptions
{
    public string Path { get; set; } = "ironauth.db";

    /// <summary>How long a write waits for another process's lock before failing.</summary>
    public TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>
/// Azure Table Storage. Exactly one endpoint: <see cref="ConnectionString"/> (falling back to the top-level
/// <c>AzureWebJobsStorage</c> value that every Functions app has) or <see cref="ServiceUri"/> with
/// <c>DefaultAzureCredential</c>.
/// </summary>
public sealed class TablesOptions
{
    /// <summary>A storage connection string; <c>UseDevelopmentStorage=true</c> is Azurite on 127.0.0.1:10002.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>The Table endpoint (https://ACCOUNT.table.core.windows.net), reached with DefaultAzureCredential (managed identity in Azure).</summary>
    public string? ServiceUri { get; set; }

    /// <summary>Starts every table name, so several deployments (or test runs) can share one account.</summary>
    public string TablePrefix { get; set; } = "ironauth";

    /// <summary>How often the SDK retries one request after a transient failure (exponential back-off with jitter).</summary>
    public int MaxRetries { get; set; } = 3;

    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long one request may take before it counts as failed (and is retried).</summary>
    public TimeSpan NetworkTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How many times a write that lost an ETag race re-reads and decides again before giving up.</summary>
    public int ConflictRetries { get; set; } = 10;

    /// <summary>First back-off after a lost race; each retry waits a random time up to twice the previous bound.</summary>
    public TimeSpan ConflictBackoff { get; set; } = TimeSpan.FromMilliseconds(5);
}

public sealed class BootstrapOptions
{
    public string? AdminUsername { get; set; }

    public string? AdminPassword { get; set; }
}

public sealed class PasswordOptions
{
    public int BcryptWorkFactor { get; set; } = 12;

    public int MinLength { get; set; } = 12;

    /// <summary>The zxcvbn score (0 to 4) a new password needs; 0 turns the estimator off.</summary>
    public int MinStrength { get; set; } = 3;

    /// <summary>Hashes allowed to run at once; the rest queue so a login flood cannot take every core.</summary>
    public int MaxConcurrentHashes { get; set; } = Math.Max(1, Environment.ProcessorCount - 1);

    /// <summary>How long a login may queue for a hashing slot before it is turned away (503).</summary>
    public TimeSpan HashQueueTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public TimeSpan ResetTokenLifetime { get; set; } = TimeSpan.FromMinutes(30);
}

public enum SigningAlgorithm
{
    RS256,
    ES256,
}

public sealed class JwtOptions
{
    /// <summary>
    /// The <c>iss</c> of every token and the <c>issuer</c> of the discovery document, which is served at this URL +
    /// <c>/.well-known/openid-configuration</c>: so it names the API's base (with <c>/api</c>) as clients reach it.
    /// The default is right for <c>dotnet run</c> (and <c>func start</c>) on this machine.
    /// </summary>
    public string Issuer { get; set; } = DefaultIssuer;

    public const string DefaultIssuer = "http://localhost:7071/api";

    public string Audience { get; set; } = "ironauth";

    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(15);

    public TimeSpan RefreshTokenLifetime { get; set; } = TimeSpan.FromDays(30);

    public SigningAlgorithm Algorithm { get; set; } = SigningAlgorithm.RS256;

    /// <summary>
    /// PEM private key (a Key Vault reference in Azure). When absent, keys are generated and kept in the store, and
    /// IronAuth rotates them (<c>POST /api/keys/rotate</c>, <c>ironauth keys rotate</c>, <see cref="RotateEvery"/>).
    /// The algorithm applies to keys generated from then on; a stored key keeps the algorithm it was made for.
    /// </summary>
    public string? SigningKey { get; set; }

    /// <summary>
    /// With <see cref="SigningKey"/>: PEM private keys that signed before it (the previous Key Vault version), still
    /// published and accepted — passive — so a manual rotation logs nobody out. Remove one once access-token lifetime
    /// plus clock skew has passed since every instance switched.
    /// </summary>
    public List<string> PreviousSigningKeys { get; set; } = [];

    /// <summary>Rotate the stored key this often, during maintenance; null (the default) for never.</summary>
    public TimeSpan? RotateEvery { get; set; }

    /// <summary>
    /// How stale an instance's view of the stored keys may get: each instance re-reads them at most this long after its
    /// last read, so it follows a rotation made elsewhere within this bound.
    /// </summary>
    public TimeSpan KeyRefreshInterval { get; set; } = TimeSpan.FromSeconds(30);

    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);
}

public sealed class LoginOptions
{
    public int MaxFailures { get; set; } = 5;

    public int LockoutSeconds { get; set; } = 60;

    /// <summary>Upper bound of the lock, which doubles on each repeated lock.</summary>
    public int MaxLockoutSeconds { get; set; } = 3600;

    public int PerIpPerMinute { get; set; } = 30;
}

public sealed class TokenOptions
{
    /// <summary>The largest <see cref="MaxActivePerUser"/> accepted.</summary>
    public const int MaxActivePerUserLimit = 10_000;

    public int DefaultLifetimeDays { get; set; } = 30;

    public int MaxLifetimeDays { get; set; } = 30;

    /// <summary>Creating a token revokes the owner's other active tokens, in the same atomic step.</summary>
    public bool OneActivePerUser { get; set; }

    /// <summary>
    /// How many active (unrevoked, unexpired) API tokens one user may hold; creating one more is refused (409
    /// <c>too_many_tokens</c>), checked in the same atomic step as the create. Bounds what one account can make.
    /// </summary>
    public int MaxActivePerUser { get; set; } = 50;

    /// <summary>last_used_at is written at most this often per token, so use does not mean a write per request.</summary>
    public TimeSpan LastUsedResolution { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How long a verified token and its owner are cached in process. Revocation, suspension and role changes
    /// made through another instance take effect within this bound; through this instance, at once.
    /// </summary>
    public TimeSpan CacheTtl { get; set; } = TimeSpan.FromSeconds(2);
}

/// <summary>The default token bucket of an API token without its own limits.</summary>
public sealed class RateLimitOptions
{
    public double RequestsPerSecond { get; set; } = 10;

    public int Burst { get; set; } = 20;
}

/// <summary>Default daily caps (UTC days) of an API token without its own; 0 means no cap.</summary>
public sealed class QuotaOptions
{
    public long DailyRequests { get; set; }

    public long DailyTokens { get; set; }

    public decimal DailyCost { get; set; }
}

public sealed class MaintenanceOptions
{
    /// <summary>NCRONTAB with seconds, as the Functions timer uses: every 5 minutes by default.</summary>
    public string Schedule { get; set; } = "0 */5 * * * *";

    /// <summary>Revoked or expired API tokens are deleted this long after revocation or expiry.</summary>
    public int TokenRetentionDays { get; set; } = 30;

    /// <summary>Daily usage history older than this is deleted.</summary>
    public int UsageRetentionDays { get; set; } = 90;

    /// <summary>Rows deleted per store call; a backlog is worked off over several calls and runs.</summary>
    public int BatchSize { get; set; } = 500;

    /// <summary>How long one run may work before it stops and leaves the rest to the next run.</summary>
    public TimeSpan MaxRunTime { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How long the run lease holds; a crashed holder's lease lapses after this.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromMinutes(5);
}
