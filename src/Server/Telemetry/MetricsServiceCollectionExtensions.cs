using System.Diagnostics.Metrics;
using IronAuth.Core.Storage;
using IronAuth.Core.Telemetry;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace IronAuth.Server.Telemetry;

/// <summary>
/// OpenTelemetry on the self-hosted server: IronAuth's meters and ASP.NET Core's request duration, read as
/// Prometheus text at <see cref="MetricsOptions.Path"/> and, when the standard <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is
/// set, pushed over OTLP (metrics and request traces). With the endpoint disabled and no OTLP endpoint, no SDK is
/// registered at all, so the instruments have no listener and cost nothing.
/// </summary>
/// <remarks>
/// Of ASP.NET Core's own meters only two are read: <see cref="HostingMeter"/> for <c>http.server.request.duration</c>
/// (the dashboards' request rates, latencies and 429s), and <see cref="DiagnosticsMeter"/>, whose one counter moves
/// only on an unhandled exception. <c>AddAspNetCoreInstrumentation()</c> would also listen to routing, Kestrel's
/// connections, the memory pool, authentication, authorization and rate limiting; the ones on the request path cost
/// an SDK update per request (with active requests, four per <c>GET /api/auth/me</c> besides the duration) for series
/// nothing of ours reads. An instrument nobody listens to is never enabled, and ASP.NET Core then skips recording it.
/// </remarks>
public static class MetricsServiceCollectionExtensions
{
    public const string OtlpEndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>ASP.NET Core's meter of <c>http.server.request.duration</c> and <c>http.server.active_requests</c>.</summary>
    public const string HostingMeter = "Microsoft.AspNetCore.Hosting";

    /// <summary>ASP.NET Core's meter of <c>aspnetcore.diagnostics.exceptions</c>.</summary>
    public const string DiagnosticsMeter = "Microsoft.AspNetCore.Diagnostics";

    public static IServiceCollection AddIronAuthMetrics(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<MetricsOptions>().BindConfiguration(MetricsOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MetricsOptions>, MetricsOptionsValidator>());

        // Read here as well as bound: whether to register an SDK at all is decided before the container exists.
        var scrape = configuration.GetValue($"{MetricsOptions.SectionName}:{nameof(MetricsOptions.Enabled)}", true);
        var otlp = !string.IsNullOrWhiteSpace(configuration[OtlpEndpointKey]);
        if (!scrape && !otlp)
        {
            return services;
        }

        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource
                .AddService("ironauth", serviceVersion: typeof(IronAuthMetrics).Assembly.GetName().Version?.ToString())
                // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, when set, win over the defaults above.
                .AddEnvironmentVariableDetector())
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(IronAuthMetrics.MeterName, StoreMetrics.MeterName, HostingMeter, DiagnosticsMeter);
                // The SDK listens by meter name, process-wide. Meters made by another container's IMeterFactory
                // (another app in this process: test servers side by side) are someone else's, and so is an
                // IronAuth meter made without one: only this container's, and static meters (IronAuth.Store), are
                // read. A view runs once per instrument, not per measurement; a dropped instrument is not listened to.
                ((IDeferredMeterProviderBuilder)metrics).Configure((provider, builder) =>
                {
                    var own = provider.GetRequiredService<IMeterFactory>();
                    builder.AddView(instrument => instrument.Meter.Scope switch
                    {
                        IMeterFactory factory when !ReferenceEquals(factory, own) => MetricStreamConfiguration.Drop,
                        null when instrument.Meter.Name == IronAuthMetrics.MeterName => MetricStreamConfiguration.Drop,
                        // Two SDK updates per request (up and down) for a gauge nothing of ours reads.
                        _ when instrument is { Name: "http.server.active_requests", Meter.Name: HostingMeter } => MetricStreamConfiguration.Drop,
                        _ => null,
                    });
                });
                if (scrape)
                {
                    metrics.AddPrometheusExporter();
                }

                if (otlp)
                {
                    metrics.AddOtlpExporter();
                }
            });
        if (otlp)
        {
            // IronAuth's own spans (request steps and store round trips) as children of ASP.NET Core's request spans.
            telemetry.WithTracing(tracing => tracing.AddSource(IronAuthTracing.SourceName).AddAspNetCoreInstrumentation().AddOtlpExporter());
        }

        return services;
    }

    /// <summary>Maps the Prometheus scrape endpoint when <c>IronAuth:Metrics:Enabled</c> (validated at start).</summary>
    public static void MapIronAuthMetrics(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<MetricsOptions>>().Value;
        if (options.Enabled)
        {
            app.MapPrometheusScrapingEndpoint(options.Path);
        }
    }
}
