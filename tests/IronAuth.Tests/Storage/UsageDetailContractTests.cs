using IronAuth.Core;
using IronAuth.Core.Limits;
using Microsoft.Extensions.DependencyInjection;

namespace IronAuth.Tests.Storage;

/// <summary>Idempotency keys and the per-model breakdown of usage (issue 19), for every store.</summary>
public abstract partial class StoreContractTests
{
    private static UsageDelta Detailed(long tokens, long costMicros, string? requestId, string? model = null, string? provider = null, long input = 0, long output = 0) =>
        new(1, tokens, costMicros) { Detail = new UsageDetail(requestId is null ? null : "v:" + requestId, model, provider, input, output) };

    [Fact]
    public async Task A_use_repeated_with_one_request_id_counts_once_and_answers_as_the_first_did()
    {
        var tokenId = Ids.New(Time);
        var now = Time.GetUtcNow();
        var limits = new EffectiveLimits(0.001, 10, new Quota(0, 0, 0));
        var requestId = Guid.NewGuid().ToString();

        var first = await Metering.TakeAndCountAsync(tokenId, limits, Detailed(30, 7, requestId, "gpt-4o", "openai", 10, 20), now, default);
        var again = await Metering.TakeAndCountAsync(tokenId, limits, Detailed(30, 7, requestId, "gpt-4o", "openai", 10, 20), now, default);
        var other = await Metering.TakeAndCountAsync(tokenId, limits, Detailed(30, 7, Guid.NewGuid().ToString(), "gpt-4o", "openai", 10, 20), now, default);

        Assert.False(first.Replayed);
        Assert.True(again.Replayed);
        Assert.Equal((first.Bucket.Remaining, first.Usage!.Day.Requests, first.Usage.Day.Tokens), (again.Bucket.Remaining, again.Usage!.Day.Requests, again.Usage.Day.Tokens));
        Assert.Equal((9, 1L, 30L), (again.Bucket.Remaining, again.Usage.Day.Requests, again.Usage.Day.Tokens));
        Assert.Equal((8, 2L), (other.Bucket.Remaining, other.Usage!.Day.Requests));
        var day = UsageDay.DayOf(now);
        Assert.Equal((2L, 60L, 14L), (await Usage.ListAsync(tokenId, day, day, default)).Select(d => (d.Requests, d.Tokens, d.CostMicros)).Single());
        var row = Assert.Single(await Usage.ListBreakdownAsync(tokenId, day, day, default));
        Assert.Equal(("openai", "gpt-4o", 2L, 20L, 40L, 60L, 14L), (row.Provider, row.Model, row.Requests, row.InputTokens, row.OutputTokens, row.Tokens, row.CostMicros));
    }

    [Fact]
    public async Task One_request_id_sent_at_once_to_two_processes_counts_once()
    {
        await using var other = BuildServices(storeSettings);
        var stores = new[] { Metering, other.GetRequiredService<IMeteringStore>() };
        var tokenId = Ids.New(Time);
        var now = Time.GetUtcNow();
        var limits = new EffectiveLimits(0.001, 1000, new Quota(0, 0, 0));
        var ids = Enumerable.Range(0, 5).Select(_ => Guid.NewGuid().ToString()).ToList();

        // Each of 5 keys sent 8 times, alternating between the processes, all at once.
        var uses = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
            stores[i % 2].TakeAndCountAsync(tokenId, limits, Detailed(3, 0, ids[i % 5], "m", "p"), now, default)));

        Assert.All(uses, u => Assert.True(u.Usage!.Added));
        Assert.Equal(5, uses.Count(u => !u.Replayed));
        var day = UsageDay.DayOf(now);
        Assert.Equal((5L, 15L), (await Usage.ListAsync(tokenId, day, day, default)).Select(d => (d.Requests, d.Tokens)).Single());
        Assert.Equal(5L, Assert.Single(await Usage.ListBreakdownAsync(tokenId, day, day, default)).Requests);
        // Every repeat answers with the figures of the use that counted under its key.
        foreach (var group in uses.Select((u, i) => (u, i)).GroupBy(x => x.i % 5))
        {
            Assert.Single(group.Select(x => x.u.Usage!.Day.Requests).Distinct());
        }
    }

    [Fact]
    public async Task Usage_recorded_twice_with_one_request_id_counts_once()
    {
        var tokenId = Ids.New(Time);
        var day = UsageDay.DayOf(Time.GetUtcNow());
        var delta = new UsageDelta(2, 50, 1000) { Detail = new UsageDetail("u:" + Guid.NewGuid(), "claude", "anthropic", 20, 30) };

        var first = await Usage.AddAsync(tokenId, day, delta, default);
        await Usage.AddAsync(tokenId, day, new UsageDelta(1, 5, 0), default);
        var again = await Usage.AddAsync(tokenId, day, delta, default);

        Assert.Equal(first, again);
        Assert.Equal((3L, 55L, 1000L), (await Usage.ListAsync(tokenId, day, day, default)).Select(d => (d.Requests, d.Tokens, d.CostMicros)).Single());
        var row = Assert.Single(await Usage.ListBreakdownAsync(tokenId, day, day, default));
        Assert.Equal(("anthropic", "claude", 2L, 20L, 30L), (row.Provider, row.Model, row.Requests, row.InputTokens, row.OutputTokens));
    }

    [Fact]
    public async Task A_refused_use_keeps_no_request_id_so_its_retry_is_a_new_attempt()
    {
        var tokenId = Ids.New(Time);
        var now = Time.GetUtcNow();
        var limits = new EffectiveLimits(1000, 1000, new Quota(0, 100, 0));
        var requestId = Guid.NewGuid().ToString();

        var refused = await Metering.TakeAndCountAsync(tokenId, limits, Detailed(101, 0, requestId), now, default);
        var retried = await Metering.TakeAndCountAsync(tokenId, limits, Detailed(100, 0, requestId), now, default);

        Assert.False(refused.Usage!.Added);
        Assert.True(retried.Usage!.Added);
        Assert.False(retried.Replayed);
    }

    [Fact]
    public async Task The_breakdown_keeps_at_most_the_bounded_pairs_a_day_and_sums_to_the_day()
    {
        var tokenId = Ids.New(Time);
        var now = Time.GetUtcNow();
        var limits = new EffectiveLimits(1000, 1000, new Quota(0, 0, 0));
        for (var i = 0; i < UsageDetail.MaxPairsPerDay + 8; i++)
        {
            Assert.True((await Metering.TakeAndCountAsync(tokenId, limits, Detailed(i, i, null, "model-" + i, "p"), now, default)).Usage!.Added);
        }

        // Usage without detail counts in the day and in no pair.
        await Metering.TakeAndCountAsync(tokenId, limits, new UsageDelta(1, 1000, 0), now, default);
        Time.Advance(TimeSpan.FromDays(1));
        var tomorrow = Time.GetUtcNow();
        await Metering.TakeAndCountAsync(tokenId, limits, Detailed(9, 0, null, "model-0", "p"), tomorrow, default);

        var day = UsageDay.DayOf(now);
        var rows = await Usage.ListBreakdownAsync(tokenId, day, day, default);
        Assert.Equal(UsageDetail.MaxPairsPerDay + 1, rows.Count);
        var other = Assert.Single(rows, r => r.Model == UsageDetail.Other);
        Assert.Equal(8L, other.Requests);
        var total = (await Usage.ListAsync(tokenId, day, day, default)).Single();
        Assert.Equal(total.Requests - 1, rows.Sum(r => r.Requests));
        Assert.Equal(total.Tokens - 1000, rows.Sum(r => r.Tokens));
        Assert.Equal(total.CostMicros, rows.Sum(r => r.CostMicros));
        var next = Assert.Single(await Usage.ListBreakdownAsync(tokenId, day.AddDays(1), day.AddDays(1), default));
        Assert.Equal(("model-0", 9L), (next.Model, next.Tokens));
    }

    [Fact]
    public async Task Maintenance_drops_request_ids_after_their_retention_and_keeps_newer_ones()
    {
        var tokenId = Ids.New(Time);
        var limits = new EffectiveLimits(1000, 1000, new Quota(0, 0, 0));
        var old = Guid.NewGuid().ToString();
        await Metering.TakeAndCountAsync(tokenId, limits, Detailed(1, 0, old), Time.GetUtcNow(), default);
        Time.Advance(TimeSpan.FromDays(2));
        var recent = Guid.NewGuid().ToString();
        await Metering.TakeAndCountAsync(tokenId, limits, Detailed(1, 0, recent), Time.GetUtcNow(), default);

        var report = await Maintenance.RunAsync(default);

        Assert.True(report.UsageRequests >= 1);
        Assert.True((await Metering.TakeAndCountAsync(tokenId, limits, Detailed(1, 0, recent), Time.GetUtcNow(), default)).Replayed);
        Assert.False((await Metering.TakeAndCountAsync(tokenId, limits, Detailed(1, 0, old), Time.GetUtcNow(), default)).Replayed);
    }
}
