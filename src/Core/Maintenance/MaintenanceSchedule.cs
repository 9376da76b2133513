using Cronos;

namespace IronAuth.Core.Maintenance;

/// <summary>The maintenance schedule: NCRONTAB with seconds (the Azure Functions timer format), parsed by Cronos.</summary>
public static class MaintenanceSchedule
{
    public static bool TryParse(string? expression, out CronExpression? schedule)
    {
        schedule = null;
        return !string.IsNullOrWhiteSpace(expression) && CronExpression.TryParse(expression, CronFormat.IncludeSeconds, out schedule);
    }

    /// <summary>The first occurrence strictly after <paramref name="after"/> (UTC).</summary>
    public static DateTimeOffset Next(CronExpression schedule, DateTimeOffset after) =>
        schedule.GetNextOccurrence(after, TimeZoneInfo.Utc) ?? throw new InvalidOperationException("The schedule has no next occurrence.");
}
