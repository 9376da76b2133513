using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;
using Azure.Identity;
using IronAuth.Core.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IronAuth.Core.Storage.Tables;

/// <summary>
/// The Table Storage account as IronAuth uses it: one long-lived client per table (SDK clients are
/// thread-safe), table creation, health, and the bounded back-off for writes that lost an ETag race.
/// Which table holds what, and under which keys, is described in docs/storage.md.
/// </summary>
public sealed partial class TableStorage(TableServiceClient service, IOptions<IronAuthOptions> options, ILogger<TableStorage> logger)
    : IStoreLifecycle
{
    /// <summary>The top-level setting an Azure Functions app always has; used when no Table endpoint is configured.</summary>
    public const string FallbackConnectionSetting = "AzureWebJobsStorage";

    /// <summary>Table names are 3 to 63 letters or digits; the longest suffix below is 11.</summary>
    public const int MaxPrefixLength = 40;

    public TablesOptions Options { get; } = options.Value.Tables;

    /// <summary>Users, the username index and the roster of active admins, all in one partition.</summary>
    public TableClient Users { get; } = service.GetTableClient(options.Value.Tables.TablePrefix + "Users");

    /// <summary>Sessions with their refresh tokens (a partition per session), and each user's session index.</summary>
    public TableClient Sessions { get; } = service.GetTableClient(options.Value.Tables.TablePrefix + "Sessions");

    /// <summary>The audit log (newest first) and a copy of each entry per involved user.</summary>
    public TableClient Audit { get; } = service.GetTableClient(options.Value.Tables.TablePrefix + "Audit");

    /// <summary>Password reset tickets (a partition per user) and the digest index.</summary>
    public TableClient Resets { get; } = service.GetTableClient(options.Value.Tables.TablePrefix + "Resets");

    public TableClient SigningKeys { get; } = service.GetTableClient(options.Value.Tables.TablePrefix + "SigningKeys");

    /// <summary>API tokens (a partition per owner), the owner's "latest" marker, and the digest index.</summary>
    public TableClient Tokens { get; } = service.GetTableClient(options.Value.Tables.TablePrefix + "Tokens");

    /// <summary>Per token (or bucket key): bucket, today's usage counters and last use in one entity, and the daily history.</summary>
    public TableClient Metering { get; } = service.GetTableClient(options.Value.Tables.TablePrefix + "Metering");

    /// <summary>The purge index: what maintenance must look at, by kind and UTC day (<see cref="PurgeIndex"/>).</summary>
    public TableClient Due { get; } = service.GetTableClient(options.Value.Tables.TablePrefix + "Due");

    /// <summary>Named leases (one entity each).</summary>
    public TableClient Leases { get; } = service.GetTableClient(options.Value.Tables.TablePrefix + "Leases");

    // ---- Accounts (issue 16) ----
    /// <summary>Emailed verification codes, one entity per address (<see cref="TableEmailCodeStore"/>).</summary>
    public TableClient EmailCodes { get; } = service.GetTableClient(options.Value.Tables.TablePrefix + "EmailCodes");

    /// <summary>TOTP enrolments and recovery codes (a partition per user) and pending two-factor sign-ins (<see cref="TableMfaStore"/>).</summary>
    public TableClient Mfa { get; } = service.GetTableClient(options.Value.Tables.TablePrefix + "Mfa");

    /// <summary>Links from an OpenID provider's identity to a user (<see cref="TableFederatedIdentityStore"/>).</summary>
    public TableClient Identities { get; } = service.GetTableClient(options.Value.Tables.TablePrefix + "Identities");
    // ---- end Accounts ----

    /// <summary>Agent budgets: a partition per budget (budget, IC tokens, leases, reports, agents), and each owner's index.</summary>
    public TableClient Budgets { get; } = service.GetTableClient(options.Value.Tables.TablePrefix + "Budgets");

    public string Name => "tables";

    private IEnumerable<TableClient> All => [Users, Sessions, Audit, Resets, SigningKeys, Tokens, Metering, Due, Leases, EmailCodes, Mfa, Identities, Budgets];

    public static bool IsValidPrefix(string? prefix) =>
        prefix is { Length: >= 1 and <= MaxPrefixLength } && char.IsAsciiLetter(prefix[0]) && prefix.All(char.IsAsciiLetterOrDigit);

    /// <summary>The one client for the account: a connection string (Azurite, shared key) or a URI reached with DefaultAzureCredential.</summary>
    public static TableServiceClient CreateServiceClient(TablesOptions options)
    {
        var clientOptions = new TableClientOptions();
        clientOptions.Retry.Mode = RetryMode.Exponential; // Azure.Core adds jitter to each exponential delay.
        clientOptions.Retry.MaxRetries = options.MaxRetries;
        clientOptions.Retry.Delay = options.RetryDelay;
        clientOptions.Retry.MaxDelay = options.MaxRetryDelay;
        clientOptions.Retry.NetworkTimeout = options.NetworkTimeout;
        // Per retry, so a request the SDK sends again after a timeout counts again: it is one more round trip.
        clientOptions.AddPolicy(new RoundTripCounter(), HttpPipelinePosition.PerRetry);
        return string.IsNullOrWhiteSpace(options.ConnectionString)
            ? new TableServiceClient(new Uri(options.ServiceUri!), new DefaultAzureCredential(), clientOptions)
            : new TableServiceClient(options.ConnectionString, clientOptions);
    }

    /// <summary>Creates the tables that do not exist yet; concurrent first starts all succeed.</summary>
    public Task InitializeAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(All.Select(table => table.CreateIfNotExistsAsync(cancellationToken)));

    public async Task<bool> IsHealthyAsync(CancellationToken cancellationToken)
    {
        try
        {
            // A query (unlike a point read) fails when the table itself is missing, so this checks the
            // endpoint, the credentials and the schema in one round trip.
            await foreach (var _ in Users.QueryAsync<TableEntity>("PartitionKey eq 'health'", 1, ["PartitionKey"], cancellationToken).AsPages())
            {
                break;
            }

            return true;
        }
        catch (Exception e) when (e is RequestFailedException or AuthenticationFailedException)
        {
            LogUnhealthy(logger, e);
            return false;
        }
    }

    /// <summary>True while a write that lost an ETag race may re-read and try again.</summary>
    public bool MayRetry(int attempt) => attempt < Options.ConflictRetries;

    /// <summary>Logs and counts a lost race, then waits (<see cref="ConflictBackoff"/>) before the re-read.</summary>
    public Task BackOffAsync(string operation, int attempt, CancellationToken cancellationToken)
    {
        LogLostRace(logger, operation, attempt + 1);
        StoreMetrics.Conflict(Name, operation);
        return ConflictBackoff.DelayAsync(Options.ConflictBackoff, attempt, cancellationToken);
    }

    /// <summary>
    /// Counts every HTTP request to Table Storage as one store round trip and times it by kind
    /// (<see cref="StoreMetrics"/>). Placed per try, so a retried request counts and is timed once per attempt.
    /// </summary>
    private sealed class RoundTripCounter : HttpPipelinePolicy
    {
        public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
        {
            StoreMetrics.TablesRoundTrip();
            using var timing = StoreMetrics.StartTables(Operation(message.Request));
            ProcessNext(message, pipeline);
        }

        public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
        {
            StoreMetrics.TablesRoundTrip();
            using var timing = StoreMetrics.StartTables(Operation(message.Request));
            await ProcessNextAsync(message, pipeline);
        }

        /// <summary>The request's kind, an index into <see cref="StoreMetrics.TableOperations"/>: read, query, insert, update, delete, batch, other.</summary>
        private static int Operation(Request request)
        {
            var path = request.Uri.Path;
            var method = request.Method;
            if (method == RequestMethod.Get)
            {
                // A point read names its keys in the path: Table(PartitionKey='…',RowKey='…').
                return path.EndsWith(')') && !path.EndsWith("()", StringComparison.Ordinal) ? 0 : 1;
            }

            if (method == RequestMethod.Post)
            {
                return path.EndsWith("$batch", StringComparison.Ordinal) ? 5 : 2;
            }

            return method == RequestMethod.Put || method == RequestMethod.Patch || method.Method == "MERGE" ? 3
                : method == RequestMethod.Delete ? 4
                : 6;
        }
    }

    [LoggerMessage(EventId = 2001, EventName = "TableWriteLostRace", Level = LogLevel.Debug, Message = "{Operation} lost an optimistic-concurrency race; re-reading (attempt {Attempt})")]
    private static partial void LogLostRace(ILogger logger, string operation, int attempt);

    [LoggerMessage(EventId = 2002, EventName = "TableStoreUnhealthy", Level = LogLevel.Warning, Message = "Table Storage health probe failed")]
    private static partial void LogUnhealthy(ILogger logger, Exception exception);
}
