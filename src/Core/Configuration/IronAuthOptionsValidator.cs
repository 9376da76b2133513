using System.Security.Cryptography;
using Azure.Data.Tables;
using IronAuth.Core.Limits;
using IronAuth.Core.Maintenance;
using IronAuth.Core.Passwords;
using IronAuth.Core.Storage.Tables;
using Microsoft.Extensions.Options;

namespace IronAuth.Core.Configuration;

/// <summary>Checks every setting at start and names each bad one, so a misconfiguration fails fast and clearly.</summary>
public sealed class IronAuthOptionsValidator : IValidateOptions<IronAuthOptions>
{
    public ValidateOptionsResult Validate(string? name, IronAuthOptions options)
    {
        var errors = new List<string>();

        if (options.Store == StoreKind.Sqlite && string.IsNullOrWhiteSpace(options.Sqlite.Path))
        {
            errors.Add("IronAuth:Sqlite:Path must name a database file.");
        }

        if (options.Store == StoreKind.Tables)
        {
            ValidateTables(options.Tables, errors);
        }

        if (options.Sqlite.BusyTimeout < TimeSpan.Zero || options.Sqlite.BusyTimeout > TimeSpan.FromMinutes(1))
        {
            errors.Add("IronAuth:Sqlite:BusyTimeout must be between 00:00:00 and 00:01:00.");
        }

        var passwords = options.Passwords;
        if (passwords.BcryptWorkFactor is < 4 or > 31)
        {
            errors.Add($"IronAuth:Passwords:BcryptWorkFactor must be between 4 and 31 (was {passwords.BcryptWorkFactor}).");
        }

        if (passwords.MinLength is < 8 or > PasswordLimits.MaxBytes)
        {
            errors.Add($"IronAuth:Passwords:MinLength must be between 8 and {PasswordLimits.MaxBytes} (was {passwords.MinLength}).");
        }

        if (passwords.MinStrength is < 0 or > 4)
        {
            errors.Add($"IronAuth:Passwords:MinStrength must be a zxcvbn score from 0 (off) to 4 (was {passwords.MinStrength}).");
        }

        if (passwords.MaxConcurrentHashes < 1)
        {
            errors.Add("IronAuth:Passwords:MaxConcurrentHashes must be at least 1.");
        }

        if (passwords.ResetTokenLifetime <= TimeSpan.Zero || passwords.ResetTokenLifetime > TimeSpan.FromDays(7))
        {
            errors.Add("IronAuth:Passwords:ResetTokenLifetime must be positive and at most 7 days.");
        }

        var jwt = options.Jwt;
        if (!IsIssuerUrl(jwt.Issuer))
        {
            errors.Add(
                $"IronAuth:Jwt:Issuer must be an absolute https URL without query, fragment or trailing slash (http only on loopback), "
                + $"e.g. https://auth.example.com/api (was '{jwt.Issuer}').");
        }

        if (string.IsNullOrWhiteSpace(jwt.Audience))
        {
            errors.Add("IronAuth:Jwt:Audience must not be empty.");
        }

        if (jwt.AccessTokenLifetime < TimeSpan.FromMinutes(1) || jwt.AccessTokenLifetime > TimeSpan.FromDays(1))
        {
            errors.Add($"IronAuth:Jwt:AccessTokenLifetime must be between 00:01:00 and 1.00:00:00 (was {jwt.AccessTokenLifetime}).");
        }

        if (jwt.RefreshTokenLifetime <= jwt.AccessTokenLifetime || jwt.RefreshTokenLifetime > TimeSpan.FromDays(365))
        {
            errors.Add("IronAuth:Jwt:RefreshTokenLifetime must be longer than the access token lifetime and at most 365 days.");
        }

        if (jwt.SigningKey is { Length: > 0 } pem && !IsUsablePrivateKey(pem, jwt.Algorithm))
        {
            errors.Add($"IronAuth:Jwt:SigningKey must be a PEM private key for {jwt.Algorithm} ({(jwt.Algorithm == SigningAlgorithm.RS256 ? "RSA, at least 2048 bits" : "EC P-256")}).");
        }

        for (var i = 0; i < jwt.PreviousSigningKeys.Count; i++)
        {
            var previous = jwt.PreviousSigningKeys[i];
            if (string.IsNullOrWhiteSpace(jwt.SigningKey))
            {
                errors.Add("IronAuth:Jwt:PreviousSigningKeys is only used with IronAuth:Jwt:SigningKey; stored keys are rotated by IronAuth.");
                break;
            }

            if (!IsUsablePrivateKey(previous, SigningAlgorithm.RS256) && !IsUsablePrivateKey(previous, SigningAlgorithm.ES256))
            {
                errors.Add($"IronAuth:Jwt:PreviousSigningKeys:{i} must be a PEM private key (RSA of at least 2048 bits, or EC P-256).");
            }
        }

        if (jwt.RotateEvery is { } every)
        {
            if (!string.IsNullOrWhiteSpace(jwt.SigningKey))
            {
                errors.Add("IronAuth:Jwt:RotateEvery cannot be used with IronAuth:Jwt:SigningKey: a configured key is rotated where it is kept (Key Vault).");
            }
            else if (every < TimeSpan.FromHours(1) || every > TimeSpan.FromDays(365))
            {
                errors.Add($"IronAuth:Jwt:RotateEvery must be between 01:00:00 and 365.00:00:00, or absent for no scheduled rotation (was {every}).");
            }
        }

        if (jwt.KeyRefreshInterval < TimeSpan.FromSeconds(1) || jwt.KeyRefreshInterval > TimeSpan.FromMinutes(5))
        {
            errors.Add($"IronAuth:Jwt:KeyRefreshInterval must be between 00:00:01 and 00:05:00 (was {jwt.KeyRefreshInterval}).");
        }

        var login = options.Login;
        if (login.MaxFailures < 1)
        {
            errors.Add("IronAuth:Login:MaxFailures must be at least 1.");
        }

        if (login.LockoutSeconds < 1 || login.MaxLockoutSeconds < login.LockoutSeconds)
        {
            errors.Add("IronAuth:Login:LockoutSeconds must be at least 1 and no more than MaxLockoutSeconds.");
        }

        if (login.PerIpPerMinute < 1)
        {
            errors.Add("IronAuth:Login:PerIpPerMinute must be at least 1.");
        }

        var tokens = options.Tokens;
        if (tokens.MaxLifetimeDays is < 1 or > 3650 || tokens.DefaultLifetimeDays < 1 || tokens.DefaultLifetimeDays > tokens.MaxLifetimeDays)
        {
            errors.Add("IronAuth:Tokens:MaxLifetimeDays must be 1 to 3650 and DefaultLifetimeDays 1 to MaxLifetimeDays.");
        }

        if (tokens.LastUsedResolution < TimeSpan.Zero || tokens.LastUsedResolution > TimeSpan.FromHours(1))
        {
            errors.Add("IronAuth:Tokens:LastUsedResolution must be between 00:00:00 and 01:00:00.");
        }

        if (tokens.CacheTtl < TimeSpan.Zero || tokens.CacheTtl > TimeSpan.FromMinutes(1))
        {
            errors.Add("IronAuth:Tokens:CacheTtl must be between 00:00:00 (off) and 00:01:00.");
        }

        if (tokens.MaxActivePerUser is < 1 or > TokenOptions.MaxActivePerUserLimit)
        {
            errors.Add($"IronAuth:Tokens:MaxActivePerUser must be from 1 to {TokenOptions.MaxActivePerUserLimit} (was {tokens.MaxActivePerUser}).");
        }

        // The configured defaults obey the same bounds as a token's own limits (TokenLimits), so the bucket's
        // arithmetic has the same guarantees whichever applies; unlike a token's, they cannot be 0 ("default").
        var rates = options.RateLimits;
        if (!(rates.RequestsPerSecond is >= TokenLimits.MinRequestsPerSecond and <= TokenLimits.MaxRequestsPerSecond))
        {
            errors.Add($"IronAuth:RateLimits:RequestsPerSecond must be from {TokenLimits.MinRequestsPerSecond} to {TokenLimits.MaxRequestsPerSecond:0} (was {rates.RequestsPerSecond}).");
        }

        if (rates.Burst is < 1 or > TokenLimits.MaxBurst)
        {
            errors.Add($"IronAuth:RateLimits:Burst must be from 1 to {TokenLimits.MaxBurst} (was {rates.Burst}).");
        }

        var quotas = options.Quotas;
        if (quotas.DailyRequests is < 0 or > TokenLimits.MaxDailyRequests)
        {
            errors.Add($"IronAuth:Quotas:DailyRequests must be 0 (no cap) or up to {TokenLimits.MaxDailyRequests} (was {quotas.DailyRequests}).");
        }

        if (quotas.DailyTokens is < 0 or > TokenLimits.MaxDailyTokens)
        {
            errors.Add($"IronAuth:Quotas:DailyTokens must be 0 (no cap) or up to {TokenLimits.MaxDailyTokens} (was {quotas.DailyTokens}).");
        }

        if (quotas.DailyCost is < 0 or > TokenLimits.MaxDailyCost || !Money.IsRepresentable(quotas.DailyCost))
        {
            errors.Add($"IronAuth:Quotas:DailyCost must be 0 (no cap) or up to {TokenLimits.MaxDailyCost:0}, with at most {Money.Decimals} decimal places.");
        }

        var maintenance = options.Maintenance;
        if (!MaintenanceSchedule.TryParse(maintenance.Schedule, out _))
        {
            errors.Add($"IronAuth:Maintenance:Schedule must be an NCRONTAB expression with seconds, such as '0 */5 * * * *' (was '{maintenance.Schedule}').");
        }

        if (maintenance.TokenRetentionDays < 0 || maintenance.UsageRetentionDays < 1 || maintenance.BatchSize is < 1 or > 10_000
            || maintenance.MaxRunTime <= TimeSpan.Zero || maintenance.LeaseDuration <= maintenance.MaxRunTime)
        {
            errors.Add("IronAuth:Maintenance: TokenRetentionDays ≥ 0, UsageRetentionDays ≥ 1, BatchSize 1 to 10000, and LeaseDuration longer than MaxRunTime.");
        }

        var bootstrap = options.Bootstrap;
        if (string.IsNullOrEmpty(bootstrap.AdminUsername) != string.IsNullOrEmpty(bootstrap.AdminPassword))
        {
            errors.Add("IronAuth:Bootstrap:AdminUsername and AdminPassword must be set together.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void ValidateTables(TablesOptions tables, List<string> errors)
    {
        var hasConnectionString = !string.IsNullOrWhiteSpace(tables.ConnectionString);
        var hasServiceUri = !string.IsNullOrWhiteSpace(tables.ServiceUri);
        if (!hasConnectionString && !hasServiceUri)
        {
            errors.Add(
                "IronAuth:Store is 'tables' but no Table endpoint is set: set IronAuth:Tables:ConnectionString (or the "
                + $"{TableStorage.FallbackConnectionSetting} setting it falls back to; UseDevelopmentStorage=true for Azurite), "
                + "or IronAuth:Tables:ServiceUri to connect with DefaultAzureCredential.");
        }
        else if (hasConnectionString && hasServiceUri)
        {
            errors.Add("IronAuth:Tables:ConnectionString and IronAuth:Tables:ServiceUri are both set; set only one.");
        }
        else if (hasServiceUri
            && !(Uri.TryCreate(tables.ServiceUri, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp)))
        {
            errors.Add("IronAuth:Tables:ServiceUri must be an absolute URL such as https://ACCOUNT.table.core.windows.net.");
        }
        else if (hasConnectionString && !IsUsableConnectionString(tables.ConnectionString!))
        {
            // The message never repeats the value: a connection string carries the account key.
            errors.Add("IronAuth:Tables:ConnectionString is not a storage connection string with a Table endpoint.");
        }

        if (!TableStorage.IsValidPrefix(tables.TablePrefix))
        {
            errors.Add($"IronAuth:Tables:TablePrefix must be a letter followed by up to {TableStorage.MaxPrefixLength - 1} letters or digits (was '{tables.TablePrefix}').");
        }

        if (tables.MaxRetries is < 0 or > 10)
        {
            errors.Add($"IronAuth:Tables:MaxRetries must be between 0 and 10 (was {tables.MaxRetries}).");
        }

        if (tables.RetryDelay <= TimeSpan.Zero || tables.MaxRetryDelay < tables.RetryDelay || tables.MaxRetryDelay > TimeSpan.FromMinutes(1))
        {
            errors.Add("IronAuth:Tables:RetryDelay must be positive and no more than MaxRetryDelay, which is at most 00:01:00.");
        }

        if (tables.NetworkTimeout < TimeSpan.FromSeconds(1) || tables.NetworkTimeout > TimeSpan.FromMinutes(5))
        {
            errors.Add("IronAuth:Tables:NetworkTimeout must be between 00:00:01 and 00:05:00.");
        }

        if (tables.ConflictRetries is < 1 or > 100)
        {
            errors.Add($"IronAuth:Tables:ConflictRetries must be between 1 and 100 (was {tables.ConflictRetries}).");
        }

        if (tables.ConflictBackoff < TimeSpan.Zero || tables.ConflictBackoff > TimeSpan.FromSeconds(1))
        {
            errors.Add("IronAuth:Tables:ConflictBackoff must be between 00:00:00 and 00:00:01.");
        }
    }

    private static bool IsUsableConnectionString(string connectionString)
    {
        try
        {
            // Parses the string and builds the pipeline; no request is made.
            _ = new TableServiceClient(connectionString);
            return true;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>
    /// OpenID Connect Discovery §3 and RFC 8414 §2: the issuer is a case-sensitive https URL with no query or fragment,
    /// and discovery is at issuer + "/.well-known/…", so a trailing slash would make two spellings of one issuer. Plain
    /// http only where nobody else can listen in: a loopback address, as `dotnet run` serves.
    /// </summary>
    internal static bool IsIssuerUrl(string? issuer) =>
        Uri.TryCreate(issuer, UriKind.Absolute, out var uri)
        && (uri.Scheme == Uri.UriSchemeHttps || (uri.Scheme == Uri.UriSchemeHttp && uri.IsLoopback))
        && uri.Query.Length == 0 && uri.Fragment.Length == 0 && uri.UserInfo.Length == 0
        && !issuer!.EndsWith('/');

    private static bool IsUsablePrivateKey(string pem, SigningAlgorithm algorithm)
    {
        try
        {
            if (algorithm == SigningAlgorithm.RS256)
            {
                using var rsa = RSA.Create();
                rsa.ImportFromPem(pem);
                return rsa.KeySize >= 2048 && rsa.ExportParameters(includePrivateParameters: true).D is not null;
            }

            using var ec = ECDsa.Create();
            ec.ImportFromPem(pem);
            var parameters = ec.ExportParameters(includePrivateParameters: true);
            return parameters.D is not null && parameters.Curve.Oid.Value == ECCurve.NamedCurves.nistP256.Oid.Value;
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            return false;
        }
    }
}
