using System.CommandLine;
using IronAuth.Core.Maintenance;

namespace IronAuth.Server.Cli;

/// <summary><c>ironauth maintenance run</c>: the scheduled clean-up, once, now.</summary>
internal static class MaintenanceCommands
{
    public static Command Create(CliContext cli)
    {
        var run = new Command(
            "run",
            "Run the maintenance job once (what the server runs on IronAuth:Maintenance:Schedule) and print what it deleted.");
        run.SetAction((parse, cancellationToken) => cli.RunAsync(parse, cancellationToken, async session =>
        {
            var report = await session.Get<MaintenanceJob>().RunAsync(cancellationToken);
            if (!report.Ran)
            {
                return cli.Fail("Maintenance did not run: another instance holds the maintenance lease. Try again later.");
            }

            TextTable.WritePairs(cli.Out,
            [
                ("sessions", CliContext.Number(report.Sessions)),
                ("refresh_tokens", CliContext.Number(report.RefreshTokens)),
                ("api_tokens", CliContext.Number(report.ApiTokens)),
                ("password_resets", CliContext.Number(report.PasswordResets)),
                ("rate_buckets", CliContext.Number(report.RateBuckets)),
                ("usage_days", CliContext.Number(report.UsageDays)),
                ("email_codes", CliContext.Number(report.EmailCodes)),
                ("mfa_challenges", CliContext.Number(report.MfaChallenges)),
                ("signing_key_rotated", report.SigningKeyRotated ? "true" : "false"),
                ("signing_keys_retired", CliContext.Number(report.SigningKeysRetired)),
                ("budget_leases_expired", CliContext.Number(report.BudgetLeasesExpired)),
                ("budgets_purged", CliContext.Number(report.BudgetsPurged)),
                ("complete", report.Complete ? "true" : "false (the time budget ran out; run again for the rest)"),
            ]);
            return IronAuthCli.Succeeded;
        }));
        return new Command("maintenance", "Purge expired sessions, tokens, reset tokens, emailed codes, two-factor challenges, full rate buckets and old usage.") { run };
    }
}
