using System.Diagnostics;

namespace IronAuth.Core.Telemetry;

/// <summary>
/// IronAuth's spans (activity source <c>IronAuth</c>): a request's main steps (<c>ironauth.token.verify</c>,
/// <c>ironauth.metering.take_and_count</c>, <c>ironauth.login</c>) and each store round trip
/// (<c>ironauth.store sqlite select</c>, <c>ironauth.store tables batch</c>, …; see <see cref="Storage.StoreMetrics"/>).
/// No exporter lives in Core: a host that wants them listens to <see cref="SourceName"/> (the server exports them over
/// OTLP when configured). Without a listener <c>StartActivity</c> returns null and costs a check, no allocation.
/// </summary>
/// <remarks>
/// Span attributes follow the metrics' rule: closed sets only (a verdict, an outcome, a store and operation, a batch
/// size), never a username, token id, address or SQL text with values.
/// </remarks>
public static class IronAuthTracing
{
    public const string SourceName = "IronAuth";

    public static ActivitySource Source { get; } = new(SourceName, typeof(IronAuthTracing).Assembly.GetName().Version?.ToString());
}
