using Azure.Monitor.OpenTelemetry.Exporter;
using IronAuth.Core.Storage;
using IronAuth.Core.Telemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace IronAuth.Functions;

/// <summary>
/// The Functions app's telemetry: when <c>APPLICATIONINSIGHTS_CONNECTION_STRING</c> is set (infra/bicep sets it to the
/// component it creates), the same meters and spans the self-hosted server exports (IronAuth, IronAuth.Store, ASP.NET
/// Core's requests) go to Application Insights through the Azure Monitor OpenTelemetry exporter: metrics to
/// <c>customMetrics</c>, spans to <c>requests</c> and <c>dependencies</c>, where the workbook reads them. Without
/// the setting no SDK is registered and the instruments have no listener.
/// </summary>
public static class ApplicationInsightsTelemetry
{
    public const string ConnectionStringKey = "APPLICATIONINSIGHTS_CONNECTION_STRING";

    public static IServiceCollection AddIronAuthApplicationInsights(this IServiceCollection services, IConfiguration configuration)
    {
        var connectionString = configuration[ConnectionStringKey];
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            return services;
        }

        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("ironauth", serviceVersion: typeof(IronAuthMetrics).Assembly.GetName().Version?.ToString()))
            .WithMetrics(metrics => metrics
                // As on the self-hosted server (MetricsServiceCollectionExtensions): of ASP.NET Core's meters only hosting
                // (http.server.request.duration) and diagnostics (unhandled exceptions); routing's and Kestrel's record on
                // every request or connection and nothing of ours reads them.
                .AddMeter(IronAuthMetrics.MeterName, StoreMetrics.MeterName, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Diagnostics")
                .AddAzureMonitorMetricExporter(options => options.ConnectionString = connectionString))
            .WithTracing(tracing => tracing
                .AddSource(IronAuthTracing.SourceName)
                .AddAspNetCoreInstrumentation()
                .AddAzureMonitorTraceExporter(options => options.ConnectionString = connectionString));
        return services;
    }
}
