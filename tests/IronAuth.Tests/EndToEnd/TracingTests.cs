using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net.Http.Json;
using IronAuth.Core.Storage;
using IronAuth.Core.Telemetry;
using IronAuth.Core.Tokens;
using IronAuth.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace IronAuth.Tests.EndToEnd;

/// <summary>IronAuth's spans and store timings (issue 19), on a real server over each store.</summary>
public abstract class TracingTests(string store) : IAsyncLifetime
{
    private static readonly ActivitySource TestSource = new("IronAuth.Tests.Tracing");

    private TestServer server = null!;

    public async Task InitializeAsync() => server = await TestServer.StartAsync(store);

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task A_verify_is_a_span_with_its_verdict_and_metering_and_store_round_trips_beneath_it()
    {
        var admin = server.NewClient((await server.LoginAdminAsync()).Access);
        var created = await (await admin.PostAsJsonAsync("api/tokens", new { name = "traced" })).ReadJsonAsync();
        var token = created["token"]!.GetValue<string>();
        var spans = new ConcurrentQueue<Activity>();
        // Read before the listener is added: a source first made inside ShouldListenTo would be missed by it.
        var testSource = TestSource;
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is IronAuthTracing.SourceName || source == testSource,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        var verifier = server.Services.GetRequiredService<TokenVerifier>();

        ActivityTraceId trace;
        using (var parent = testSource.StartActivity("test"))
        {
            trace = parent!.TraceId;
            Assert.True((await verifier.VerifyAsync(token, 5, 0, default)).IsValid);
            // A cold credential cache: the token is read from the store inside the verify's own flow.
            server.Services.GetRequiredService<Core.Caching.CredentialCache>().EvictToken(Core.Ids.Digest(token));
            Assert.True((await verifier.VerifyAsync(token, 5, 0, default)).IsValid);
        }

        var mine = spans.Where(s => s.TraceId == trace).ToList();
        var verifies = mine.Where(s => s.OperationName == "ironauth.token.verify").ToList();
        Assert.Equal(2, verifies.Count);
        Assert.All(verifies, v => Assert.Equal("valid", v.GetTagItem("ironauth.verdict")));
        Assert.Equal(2, mine.Count(s => s.OperationName == "ironauth.metering.take_and_count" && verifies.Any(v => v.SpanId == s.ParentSpanId)));
        var round = mine.Where(s => s.OperationName.StartsWith("ironauth.store ", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(round);
        Assert.All(round, s => Assert.Equal(store, s.GetTagItem("store")));
        Assert.All(round, s => Assert.Contains((string)s.GetTagItem("operation")!, store == TestStore.Sqlite ? StoreMetrics.SqliteOperations : StoreMetrics.TableOperations));
        // Attributes are closed sets: no token, id or digest anywhere.
        var id = created["metadata"]!["id"]!.GetValue<string>();
        Assert.DoesNotContain(mine.SelectMany(s => s.TagObjects), tag => tag.Value is string text && (text.Contains(id, StringComparison.Ordinal) || text.Contains(token, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Store_round_trips_are_timed_by_store_and_operation_and_metering_writes_by_size()
    {
        var durations = new ConcurrentBag<(string Store, string Operation)>();
        var batches = new ConcurrentBag<(string Store, long Size)>();
        using var meters = new MeterListener();
        meters.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == StoreMetrics.MeterName && instrument.Name is "ironauth.store.operation.duration" or "ironauth.metering.batch_size")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        meters.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            Assert.True(value >= 0);
            durations.Add(((string)Tag(tags, "store")!, (string)Tag(tags, "operation")!));
        });
        meters.SetMeasurementEventCallback<long>((_, value, tags, _) => batches.Add(((string)Tag(tags, "store")!, value)));
        meters.Start();

        var admin = server.NewClient((await server.LoginAdminAsync()).Access);
        var created = await (await admin.PostAsJsonAsync("api/tokens", new { name = "timed", limits = new { burst = 100 } })).ReadJsonAsync();
        var client = server.NewClient(created["token"]!.GetValue<string>());
        await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => client.GetAsync("api/auth/me")));

        // The listener sees every test's stores (the meter is static); each test server has a store of its own kind,
        // so this store's kind must be there with operations of its closed set.
        var ours = durations.Where(d => d.Store == store).Select(d => d.Operation).ToHashSet();
        Assert.NotEmpty(ours);
        Assert.Subset((store == TestStore.Sqlite ? StoreMetrics.SqliteOperations : StoreMetrics.TableOperations).ToHashSet(), ours);
        // SQLite times the metering writer's transactions whole ("batch"); Tables shows the verify's conditional update.
        Assert.Contains(store == TestStore.Sqlite ? "batch" : "update", ours);
        Assert.Contains(batches, b => b.Store == store && b.Size >= 1);
    }

    private static object? Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, string key)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == key)
            {
                return tag.Value;
            }
        }

        return null;
    }
}

public sealed class SqliteTracingTests() : TracingTests(TestStore.Sqlite);

public sealed class TablesTracingTests() : TracingTests(TestStore.Tables);
