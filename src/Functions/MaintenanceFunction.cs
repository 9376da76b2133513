using IronAuth.Core.Maintenance;
using Microsoft.Azure.Functions.Worker;

namespace IronAuth.Functions;

/// <summary>
/// Runs the same maintenance job the self-hosted server schedules, on the same setting. The binding expression
/// names the configuration key (<c>IronAuth:Maintenance:Schedule</c>): the host resolves it through .NET
/// configuration, where the app setting <c>IronAuth__Maintenance__Schedule</c> (the only spelling Linux allows) lands.
/// </summary>
public sealed class MaintenanceFunction(MaintenanceJob job)
{
    [Function("Maintenance")]
    public Task Run([TimerTrigger("%IronAuth:Maintenance:Schedule%")] TimerInfo timer, CancellationToken cancellationToken) =>
        job.RunAsync(cancellationToken);
}
