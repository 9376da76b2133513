using System.Collections.Concurrent;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Text;
using IronAuth.Core.Storage;
using IronAuth.Core.Telemetry;
using IronAuth.Core.Tokens;
using IronAuth.Functions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace IronAuth.Tests.Functions;

/// <summary>
/// The Functions app's registration sends IronAuth's metrics and spans to Application Insights when its connection
/// string is set: here to a stand-in ingestion endpoint on loopback, which records what the Azure Monitor exporter posts.
/// </summary>
public sealed class ApplicationInsightsTelemetryTests
{
    [Fact]
    public async Task With_a_connection_string_metrics_and_spans_reach_the_ingestion_endpoint()
    {
        using var ingestion = new StandInIngestion();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddMetrics();
        services.AddSingleton<IronAuthMetrics>();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            [ApplicationInsightsTelemetry.ConnectionStringKey] = $"InstrumentationKey=00000000-0000-0000-0000-000000000001;IngestionEndpoint={ingestion.Address}",
            // The exporter's default sampler is rate-limited (a few traces a second, from an empty allowance), so a
            // single span may or may not be kept; the standard sampler settings ask for every one.
            ["OTEL_TRACES_SAMPLER"] = "microsoft.fixed_percentage",
            ["OTEL_TRACES_SAMPLER_ARG"] = "1.0",
        }).Build();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddIronAuthApplicationInsights(configuration);
        await using var provider = services.BuildServiceProvider();
        var meters = provider.GetRequiredService<MeterProvider>();
        var tracer = provider.GetRequiredService<TracerProvider>();
        var metrics = provider.GetRequiredService<IronAuthMetrics>();

        metrics.TokenVerified(VerdictCode.Valid);
        metrics.Login(LoginOutcome.InvalidCredentials);
        // A root span, as a request's is: the SDK samples children by their parent, and the test runner's thread may
        // carry an unsampled activity of another test.
        System.Diagnostics.Activity.Current = null;
        using (var activity = IronAuthTracing.Source.StartActivity("ironauth.token.verify"))
        {
            Assert.NotNull(activity);
            Assert.True(activity.Recorded);
            activity.SetTag("ironauth.verdict", "valid");
            using var store = StoreMetrics.StartSqlite(0);
        }

        Assert.True(meters.ForceFlush(10_000));
        Assert.True(tracer.ForceFlush(10_000));

        var posted = string.Join("\n", ingestion.Bodies);
        Assert.Contains("\"ironauth.token_verifications\"", posted, StringComparison.Ordinal);
        Assert.Contains("\"ironauth.logins\"", posted, StringComparison.Ordinal);
        Assert.Contains("\"invalid_credentials\"", posted, StringComparison.Ordinal);
        Assert.Contains("ironauth.token.verify", posted, StringComparison.Ordinal);
        Assert.Contains("ironauth.store sqlite select", posted, StringComparison.Ordinal);
        Assert.Contains("00000000-0000-0000-0000-000000000001", posted, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_a_connection_string_no_telemetry_sdk_is_registered()
    {
        var services = new ServiceCollection();
        services.AddIronAuthApplicationInsights(new ConfigurationBuilder().Build());
        using var provider = services.BuildServiceProvider();

        Assert.Null(provider.GetService<MeterProvider>());
        Assert.Null(provider.GetService<TracerProvider>());
    }

    /// <summary>Answers the exporter's POSTs to /v2.1/track as Application Insights does, and keeps their bodies.</summary>
    private sealed class StandInIngestion : IDisposable
    {
        private readonly HttpListener listener = new();
        private readonly Task loop;

        public StandInIngestion()
        {
            var port = FreePort();
            Address = $"http://127.0.0.1:{port}/";
            listener.Prefixes.Add(Address);
            listener.Start();
            loop = Task.Run(ServeAsync);
        }

        public string Address { get; }

        public ConcurrentQueue<string> Bodies { get; } = new();

        public void Dispose()
        {
            listener.Close();
            try
            {
                loop.Wait(TimeSpan.FromSeconds(5));
            }
            catch (AggregateException)
            {
                // The listener was closed under a pending accept: the loop's way of ending.
            }
        }

        private async Task ServeAsync()
        {
            while (listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await listener.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }

                Stream body = context.Request.InputStream;
                if (context.Request.Headers["Content-Encoding"] == "gzip")
                {
                    body = new GZipStream(body, CompressionMode.Decompress);
                }

                using (var reader = new StreamReader(body, Encoding.UTF8))
                {
                    var text = await reader.ReadToEndAsync();
                    Bodies.Enqueue(text);
                    var items = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
                    var answer = Encoding.UTF8.GetBytes($$"""{"itemsReceived":{{items}},"itemsAccepted":{{items}},"errors":[]}""");
                    context.Response.StatusCode = 200;
                    context.Response.ContentType = "application/json";
                    await context.Response.OutputStream.WriteAsync(answer);
                }

                context.Response.Close();
            }
        }

        private static int FreePort()
        {
            using var socket = new TcpListener(IPAddress.Loopback, 0);
            socket.Start();
            return ((IPEndPoint)socket.LocalEndpoint).Port;
        }
    }
}
