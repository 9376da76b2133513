using IronAuth.Core.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IronAuth.Core.Maintenance;

/// <summary>
/// Runs <see cref="MaintenanceJob"/> on <c>IronAuth:Maintenance:Schedule</c> in the self-hosted server (the
/// Functions host uses its timer trigger on the same schedule instead). Waits on the injected TimeProvider.
/// </summary>
public sealed partial class MaintenanceScheduler(
    MaintenanceJob job, IOptions<IronAuthOptions> options, TimeProvider time, ILogger<MaintenanceScheduler> logger) : BackgroundService
{
    private TaskCompletionSource<MaintenanceReport> nextRun = NewCompletion();

    /// <summary>Completes when the next scheduled run has finished (for tests and diagnostics).</summary>
    public Task<MaintenanceReport> NextRunCompleted => Volatile.Read(ref nextRun).Task;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Validated at start, so the expression parses.
        MaintenanceSchedule.TryParse(options.Value.Maintenance.Schedule, out var schedule);
        while (!stoppingToken.IsCancellationRequested)
        {
            var now = time.GetUtcNow();
            await Task.Delay(MaintenanceSchedule.Next(schedule!, now) - now, time, stoppingToken);
            var completion = Interlocked.Exchange(ref nextRun, NewCompletion());
            try
            {
                completion.SetResult(await job.RunAsync(stoppingToken));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A failed run is logged and retried at the next occurrence; it must not stop the server.
                LogFailed(logger, e);
                completion.SetException(e);
            }
        }
    }

    private static TaskCompletionSource<MaintenanceReport> NewCompletion() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    [LoggerMessage(EventId = 3003, EventName = "MaintenanceFailed", Level = LogLevel.Error, Message = "Scheduled maintenance run failed")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
