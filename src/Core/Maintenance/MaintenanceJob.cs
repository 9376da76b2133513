using System.Diagnostics;
using IronAuth.Core.Audit;
using IronAuth.Core.Budgets;
using IronAuth.Core.Configuration;
using IronAuth.Core.Limits;
using IronAuth.Core.Signing;
using IronAuth.Core.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IronAuth.Core.Maintenance;

/// <summary>What one run did, per kind of record.</summary>
public sealed record MaintenanceReport(
    bool Ran, int Sessions, int RefreshTokens, int ApiTokens, int PasswordResets, int RateBuckets, int UsageDays, bool Complete)
{
    public static MaintenanceReport Skipped { get; } = new(false, 0, 0, 0, 0, 0, 0, true);

    /// <summary>Whether a scheduled rotation (<c>IronAuth:Jwt:RotateEvery</c>) made a new active signing key.</summary>
    public bool SigningKeyRotated { get; init; }

    /// <summary>Passive signing keys retired (no unexpired token can carry them any more).</summary>
    public int SigningKeysRetired { get; init; }

    /// <summary>Idempotency keys of usage reports dropped (kept <see cref="UsageReplay.Retention"/> at least).</summary>
    public int UsageRequests { get; init; }

    /// <summary>Budget leases closed at their expiry, their unspent parts returned (issue 18).</summary>
    public int BudgetLeasesExpired { get; init; }

    /// <summary>Budgets purged (with their leases and reports) after <c>IronAuth:Budgets:RetentionDays</c> ended.</summary>
    public int BudgetsPurged { get; init; }

    /// <summary>Emailed codes (issue 16) purged: spent or expired.</summary>
    public int EmailCodes { get; init; }

    /// <summary>Pending two-factor sign-ins (issue 16) purged: spent or expired.</summary>
    public int MfaChallenges { get; init; }

    public int Total => Sessions + RefreshTokens + ApiTokens + PasswordResets + RateBuckets + UsageDays + UsageRequests + EmailCodes + MfaChallenges;
}

/// <summary>
/// Purges what has expired and rolls daily usage out of retention, rotates the signing key when
/// <c>IronAuth:Jwt:RotateEvery</c> says so, and retires passive signing keys no unexpired token can carry. Both hosts run it on the same schedule
/// (the Server's scheduler, the Functions timer) and the CLI on demand. A lease in the store lets one
/// instance work at a time; work is done in bounded batches within a time budget, so a backlog is worked
/// off over several runs rather than timing one out. Usage is kept per UTC day from the start, so quota
/// enforcement never depends on this job: a new day's counters start at zero whether or not it ran.
/// </summary>
public sealed partial class MaintenanceJob(
    IMaintenanceStore store,
    ILeaseStore leases,
    IBudgetStore budgets,
    IAuditStore audit,
    SigningKeyManager signingKeys,
    IronAuthMetrics metrics,
    IOptions<IronAuthOptions> options,
    TimeProvider time,
    ILogger<MaintenanceJob> logger)
{
    public const string LeaseName = "maintenance";

    public async Task<MaintenanceReport> RunAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value.Maintenance;
        var holder = Ids.NewSecret(12);
        var now = time.GetUtcNow();
        if (!await leases.TryAcquireAsync(LeaseName, holder, now + settings.LeaseDuration, now, cancellationToken))
        {
            LogSkipped(logger);
            metrics.MaintenanceRun(MaintenanceOutcome.Skipped);
            return MaintenanceReport.Skipped;
        }

        try
        {
            var budget = Stopwatch.StartNew();
            var complete = true;

            async Task<int> Drain(Func<int, Task<int>> purge)
            {
                var total = 0;
                while (true)
                {
                    if (budget.Elapsed > settings.MaxRunTime)
                    {
                        complete = false;
                        return total;
                    }

                    var deleted = await purge(settings.BatchSize);
                    total += deleted;
                    if (deleted < settings.BatchSize)
                    {
                        return total;
                    }
                }
            }

            var report = new MaintenanceReport(
                Ran: true,
                Sessions: await Drain(b => store.PurgeSessionsAsync(now, b, cancellationToken)),
                RefreshTokens: await Drain(b => store.PurgeRefreshTokensAsync(now, b, cancellationToken)),
                ApiTokens: await Drain(b => store.PurgeApiTokensAsync(now.AddDays(-settings.TokenRetentionDays), b, cancellationToken)),
                PasswordResets: await Drain(b => store.PurgePasswordResetsAsync(now, b, cancellationToken)),
                RateBuckets: await Drain(b => store.PurgeFullBucketsAsync(now, b, cancellationToken)),
                UsageDays: await Drain(b => store.PurgeUsageAsync(UsageDay.DayOf(now).AddDays(-settings.UsageRetentionDays), b, cancellationToken)),
                Complete: complete);
            // Idempotency keys past their retention; agent budgets: expired leases return their unspent parts (not a
            // purge: they stay, closed, with the budget), ended budgets go after their retention.
            report = report with
            {
                UsageRequests = await Drain(b => store.PurgeUsageRequestsAsync(now - UsageReplay.Retention, b, cancellationToken)),
                EmailCodes = await Drain(b => store.PurgeEmailCodesAsync(now, b, cancellationToken)),
                MfaChallenges = await Drain(b => store.PurgeMfaChallengesAsync(now, b, cancellationToken)),
                BudgetLeasesExpired = await Drain(b => budgets.ExpireLeasesAsync(now, b, cancellationToken)),
                BudgetsPurged = await Drain(b => budgets.PurgeAsync(now.AddDays(-options.Value.Budgets.RetentionDays), b, cancellationToken)),
                Complete = complete,
            };
            // Keys after the purges: a handful of rows, never a backlog, so no budget of their own.
            var upkeep = await signingKeys.MaintainAsync(cancellationToken);
            report = report with { SigningKeyRotated = upkeep.Rotated, SigningKeysRetired = upkeep.Retired };

            metrics.Purged(PurgeKind.Sessions, report.Sessions);
            metrics.Purged(PurgeKind.RefreshTokens, report.RefreshTokens);
            metrics.Purged(PurgeKind.ApiTokens, report.ApiTokens);
            metrics.Purged(PurgeKind.PasswordResets, report.PasswordResets);
            metrics.Purged(PurgeKind.RateBuckets, report.RateBuckets);
            metrics.Purged(PurgeKind.UsageDays, report.UsageDays);
            metrics.Purged(PurgeKind.UsageRequests, report.UsageRequests);
            metrics.Purged(PurgeKind.EmailCodes, report.EmailCodes);
            metrics.Purged(PurgeKind.MfaChallenges, report.MfaChallenges);
            metrics.MaintenanceRun(report.Complete ? MaintenanceOutcome.Completed : MaintenanceOutcome.Incomplete);
            LogRan(logger, report.Sessions, report.RefreshTokens, report.ApiTokens, report.PasswordResets, report.RateBuckets, report.UsageDays, report.Complete);
            await audit.AppendAsync(
                AuditEntry.Create(time, Actor.System, AuditActions.MaintenanceRan, details: new Dictionary<string, string>
                {
                    ["sessions"] = Text(report.Sessions),
                    ["refresh_tokens"] = Text(report.RefreshTokens),
                    ["api_tokens"] = Text(report.ApiTokens),
                    ["password_resets"] = Text(report.PasswordResets),
                    ["rate_buckets"] = Text(report.RateBuckets),
                    ["usage_days"] = Text(report.UsageDays),
                    ["usage_requests"] = Text(report.UsageRequests),
                    ["email_codes"] = Text(report.EmailCodes),
                    ["mfa_challenges"] = Text(report.MfaChallenges),
                    ["signing_key_rotated"] = report.SigningKeyRotated ? "true" : "false",
                    ["signing_keys_retired"] = Text(report.SigningKeysRetired),
                    ["budget_leases_expired"] = Text(report.BudgetLeasesExpired),
                    ["budgets_purged"] = Text(report.BudgetsPurged),
                    ["complete"] = report.Complete ? "true" : "false",
                }),
                CancellationToken.None);
            return report;
        }
        finally
        {
            await leases.ReleaseAsync(LeaseName, holder, time.GetUtcNow(), CancellationToken.None);
        }
    }

    private static string Text(int value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    [LoggerMessage(EventId = 3001, EventName = "MaintenanceRan", Level = LogLevel.Information,
        Message = "Maintenance purged {Sessions} sessions, {RefreshTokens} refresh tokens, {ApiTokens} API tokens, {PasswordResets} password resets, {RateBuckets} rate buckets, {UsageDays} usage days (complete: {Complete})")]
    private static partial void LogRan(ILogger logger, int sessions, int refreshTokens, int apiTokens, int passwordResets, int rateBuckets, int usageDays, bool complete);

    [LoggerMessage(EventId = 3002, EventName = "MaintenanceSkipped", Level = LogLevel.Information, Message = "Maintenance skipped: another instance holds the lease")]
    private static partial void LogSkipped(ILogger logger);
}
