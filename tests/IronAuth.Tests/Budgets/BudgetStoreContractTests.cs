using IronAuth.Core;
using IronAuth.Core.Budgets;
using IronAuth.Core.Limits;
using IronAuth.Core.Storage;
using IronAuth.Tests.Storage;
using IronAuth.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace IronAuth.Tests.Budgets;

/// <summary>The budget store's contract, inherited unchanged by the SQLite and the Table Storage test classes.</summary>
public abstract class BudgetStoreContractTests : IAsyncLifetime
{
    private static readonly TimeSpan LeaseLifetime = TimeSpan.FromHours(1);
    private ServiceProvider services = null!;

    protected FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 12, 1, 9, 0, 0, TimeSpan.Zero));

    protected IDictionary<string, string?> Settings { get; private set; } = null!;

    protected IBudgetStore Store => services.GetRequiredService<IBudgetStore>();

    protected abstract Task<IDictionary<string, string?>> CreateStoreSettingsAsync();

    protected virtual Task DisposeStoreAsync() => Task.CompletedTask;

    public async Task InitializeAsync()
    {
        Settings = await CreateStoreSettingsAsync();
        services = BuildServices(Settings);
        await services.GetRequiredService<IStoreLifecycle>().InitializeAsync(default);
    }

    public async Task DisposeAsync()
    {
        await services.DisposeAsync();
        await DisposeStoreAsync();
    }

    /// <summary>Another independent service provider on the same store: another "process".</summary>
    protected ServiceProvider BuildServices(IDictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var collection = new ServiceCollection();
        collection.AddSingleton<IConfiguration>(configuration);
        collection.AddLogging();
        collection.AddIronAuthCore();
        collection.AddIronAuthStore(configuration);
        collection.AddSingleton<TimeProvider>(Time);
        return collection.BuildServiceProvider();
    }

    protected static long M(decimal amount) => Money.ToMicros(amount);

    protected async Task<(Budget Budget, IcTokenRecord Token)> NewBudgetAsync(decimal allocation, string agent = "agent-1", TimeSpan? lifetime = null)
    {
        var now = Time.GetUtcNow();
        var budget = new Budget
        {
            Id = Ids.New(Time),
            UserId = Ids.New(Time),
            Name = "b-" + Guid.NewGuid().ToString("N")[..8],
            AllocationMicros = M(allocation),
            CreatedAt = now,
            ExpiresAt = now + (lifetime ?? TimeSpan.FromDays(30)),
        };
        await Store.CreateAsync(budget, default);
        return (budget, await NewIcTokenAsync(budget, agent));
    }

    protected async Task<IcTokenRecord> NewIcTokenAsync(Budget budget, string agent)
    {
        var now = Time.GetUtcNow();
        var token = new IcTokenRecord
        {
            Jti = Ids.NewSecret(16),
            BudgetId = budget.Id,
            AgentId = agent,
            Permissions = BudgetRules.ProtocolPermissions,
            IssuedAt = now,
            ExpiresAt = now.AddDays(1),
        };
        Assert.True(await Store.AddIcTokenAsync(token, default));
        return token;
    }

    protected IcCaller CallerOf(IcTokenRecord token) => new(token.BudgetId, token.Jti, token.AgentId, Time.GetUtcNow());

    protected Task<LeaseGrantResult> GrantAsync(IBudgetStore store, IcTokenRecord token, decimal requested, string? previous = null) =>
        store.GrantAsync(new LeaseGrantRequest(CallerOf(token), Ids.New(Time), M(requested), LeaseLifetime, previous), default);

    protected Task<LeaseReportResult> ReportAsync(IcTokenRecord token, string leaseId, decimal cost, string? reportId = null, long tokens = 0) =>
        Store.ReportAsync(new LeaseReportRequest(CallerOf(token), leaseId, reportId ?? Guid.NewGuid().ToString("N"), tokens, M(cost)), default);

    [Fact]
    public async Task The_protocols_worked_example_gives_the_exact_numbers()
    {
        var (budget, token) = await NewBudgetAsync(100m);

        var handshake = await GrantAsync(Store, token, 10m);
        Assert.Equal(BudgetRefusal.None, handshake.Refusal);
        Assert.Equal(M(10m), handshake.GrantedMicros);
        Assert.Equal(M(90m), handshake.Budget!.AvailableMicros);

        var report = await ReportAsync(token, handshake.Lease!.Id, 0.015m);
        Assert.Equal((M(9.985m), M(90m), false, false), (report.LeaseRemainingMicros, report.BudgetRemainingMicros, report.Overrun, report.Duplicate));

        var refresh = await GrantAsync(Store, token, 10m, handshake.Lease.Id);
        Assert.Equal(BudgetRefusal.None, refresh.Refusal);
        Assert.Equal((M(10m), M(9.985m), M(80m)), (refresh.GrantedMicros, refresh.CarriedMicros, refresh.Budget!.AvailableMicros));
        Assert.Equal(M(19.985m), refresh.Lease!.GrantedMicros);

        var close = await Store.CloseAsync(CallerOf(token), refresh.Lease.Id, default);
        Assert.Equal((BudgetRefusal.None, M(19.985m), M(99.985m)), (close.Refusal, close.ReturnedMicros, close.BudgetRemainingMicros));

        var after = (await Store.FindAsync(budget.Id, default))!;
        Assert.Equal((M(100m), M(0.015m), 0L, 0L, 0), (after.AllocationMicros, after.SpentMicros, after.ReservedMicros, after.GrantedMicros, after.OpenLeases));
        Assert.Equal(M(99.985m), after.AvailableMicros);
        Assert.Equal(M(0.015m), (await Store.SpendByAgentAsync(budget.Id, default))[token.AgentId]);
        // The refreshed lease is closed: refreshing or closing it again is refused.
        Assert.Equal(BudgetRefusal.LeaseClosed, (await GrantAsync(Store, token, 1m, handshake.Lease.Id)).Refusal);
        Assert.Equal(BudgetRefusal.LeaseClosed, (await Store.CloseAsync(CallerOf(token), refresh.Lease.Id, default)).Refusal);
    }

    [Fact]
    public async Task Spend_past_the_64_bit_range_saturates_and_stays_exhausted_instead_of_wrapping_into_money()
    {
        var (budget, token) = await NewBudgetAsync(100m);
        var lease = (await GrantAsync(Store, token, 10m)).Lease!;
        var huge = long.MaxValue / 3 + 1;

        // Reports beyond a lease are accepted (overruns), so only saturation bounds their sum: four of them pass 2^63.
        for (var i = 0; i < 4; i++)
        {
            var report = await Store.ReportAsync(new LeaseReportRequest(CallerOf(token), lease.Id, "r" + i, huge, huge), default);
            Assert.Equal(BudgetRefusal.None, report.Refusal);
            Assert.True(report.BudgetRemainingMicros < 0, $"remaining {report.BudgetRemainingMicros} after report {i}");
        }

        var after = (await Store.FindAsync(budget.Id, default))!;
        Assert.Equal((long.MaxValue, long.MaxValue), (after.SpentMicros, after.SpentTokens));
        Assert.True(after.AvailableMicros < 0);
        Assert.Equal(BudgetRefusal.BudgetExhausted, (await GrantAsync(Store, token, 1m)).Refusal);
        Assert.Equal(long.MaxValue, (await Store.SpendByAgentAsync(budget.Id, default))[token.AgentId]);
        var today = DateOnly.FromDateTime(Time.GetUtcNow().UtcDateTime);
        var spend = Assert.Single(await Store.ListSpendAsync(today, today, budget.UserId, default));
        Assert.Equal((4L, long.MaxValue, long.MaxValue), (spend.Requests, spend.Tokens, spend.CostMicros));
        // A range ending on the last representable day reads like any other.
        Assert.Empty(await Store.ListSpendAsync(DateOnly.MaxValue, DateOnly.MaxValue, budget.UserId, default));
    }

    [Fact]
    public async Task Forty_concurrent_grants_from_two_processes_add_up_to_exactly_the_allocation()
    {
        var (budget, token) = await NewBudgetAsync(100m);
        await using var other = BuildServices(Settings);
        var stores = new[] { Store, other.GetRequiredService<IBudgetStore>() };

        var results = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => Task.Run(() => GrantAsync(stores[i % 2], token, 10m))));

        Assert.Equal(M(100m), results.Sum(r => r.GrantedMicros));
        Assert.Equal(10, results.Count(r => r.Refusal == BudgetRefusal.None));
        Assert.All(results.Where(r => r.Refusal != BudgetRefusal.None), r => Assert.Equal(BudgetRefusal.BudgetExhausted, r.Refusal));
        var after = (await Store.FindAsync(budget.Id, default))!;
        Assert.Equal((0L, M(100m), 10), (after.AvailableMicros, after.ReservedMicros, after.OpenLeases));
    }

    [Fact]
    public async Task Concurrent_reports_and_their_retries_from_two_processes_are_each_counted_exactly_once()
    {
        var (budget, token) = await NewBudgetAsync(100m);
        var lease = (await GrantAsync(Store, token, 10m)).Lease!;
        await using var other = BuildServices(Settings);
        var stores = new[] { Store, other.GetRequiredService<IBudgetStore>() };

        // 30 distinct reports of 0.5 on a lease of 10, each sent twice at once, one copy through each process: 20 fit in
        // the lease and 10 go beyond it, 60 calls in all.
        var calls = Enumerable.Range(0, 60).Select(i => Task.Run(() => stores[i % 2].ReportAsync(
            new LeaseReportRequest(CallerOf(token), lease.Id, "r-" + (i / 2), 10, M(0.5m)), default)));
        var results = await Task.WhenAll(calls);

        Assert.All(results, r => Assert.Equal(BudgetRefusal.None, r.Refusal));
        Assert.Equal(30, results.Count(r => r.Duplicate));
        var after = (await Store.FindAsync(budget.Id, default))!;
        Assert.Equal((M(15m), 300L, 0L, M(85m)), (after.SpentMicros, after.SpentTokens, after.ReservedMicros, after.AvailableMicros));
        Assert.Equal(M(15m), (await Store.SpendByAgentAsync(budget.Id, default))[token.AgentId]);
        Assert.Equal(10, results.Count(r => r.Overrun && !r.Duplicate));
    }

    [Fact]
    public async Task Changes_made_between_two_reports_by_another_process_or_another_call_are_seen_by_the_second()
    {
        // A store that remembers rows between reports (the SQLite report writer does) must still see every change made
        // in between, whether by another process or by another call of its own process.
        await using var other = BuildServices(Settings);
        var otherStore = other.GetRequiredService<IBudgetStore>();

        // The allocation lowered elsewhere: the second report answers with the new figure.
        var (budget, token) = await NewBudgetAsync(100m);
        var lease = (await GrantAsync(Store, token, 10m)).Lease!;
        Assert.Equal(M(90m), (await ReportAsync(token, lease.Id, 1m)).BudgetRemainingMicros);
        Assert.Equal(AllocationOutcome.Changed, (await otherStore.SetAllocationAsync(budget.Id, M(50m), default)).Outcome);
        Assert.Equal(M(40m), (await ReportAsync(token, lease.Id, 1m)).BudgetRemainingMicros);
        // Another process's report on the same lease, then ours: both counted, on top of each other.
        await otherStore.ReportAsync(new LeaseReportRequest(CallerOf(token), lease.Id, "elsewhere", 5, M(1m)), default);
        var third = await ReportAsync(token, lease.Id, 1m, tokens: 5);
        Assert.Equal((M(6m), M(40m)), (third.LeaseRemainingMicros, third.BudgetRemainingMicros));
        var after = (await Store.FindAsync(budget.Id, default))!;
        Assert.Equal((M(4m), 10L, M(6m)), (after.SpentMicros, after.SpentTokens, after.ReservedMicros));
        Assert.Equal(M(4m), (await Store.SpendByAgentAsync(budget.Id, default))[token.AgentId]);

        // The budget revoked by another process.
        Assert.True(await otherStore.RevokeAsync(budget.Id, Time.GetUtcNow(), default));
        Assert.Equal(BudgetRefusal.BudgetRevoked, (await ReportAsync(token, lease.Id, 1m)).Refusal);

        // The IC token revoked by another process, and one revoked by this process.
        var (second, secondToken) = await NewBudgetAsync(100m);
        var secondLease = (await GrantAsync(Store, secondToken, 10m)).Lease!;
        Assert.Equal(BudgetRefusal.None, (await ReportAsync(secondToken, secondLease.Id, 1m)).Refusal);
        Assert.True(await otherStore.RevokeIcTokenAsync(second.Id, secondToken.Jti, Time.GetUtcNow(), default));
        Assert.Equal(BudgetRefusal.IcTokenRevoked, (await ReportAsync(secondToken, secondLease.Id, 1m)).Refusal);
        var thirdToken = await NewIcTokenAsync(second, "agent-3");
        var thirdLease = (await GrantAsync(Store, thirdToken, 10m)).Lease!;
        Assert.Equal(BudgetRefusal.None, (await ReportAsync(thirdToken, thirdLease.Id, 1m)).Refusal);
        Assert.True(await Store.RevokeIcTokenAsync(second.Id, thirdToken.Jti, Time.GetUtcNow(), default));
        Assert.Equal(BudgetRefusal.IcTokenRevoked, (await ReportAsync(thirdToken, thirdLease.Id, 1m)).Refusal);

        // A lease closed by this process between two reports: the second is counted as overrun.
        var fourthToken = await NewIcTokenAsync(second, "agent-4");
        var fourthLease = (await GrantAsync(Store, fourthToken, 10m)).Lease!;
        Assert.False((await ReportAsync(fourthToken, fourthLease.Id, 1m)).Overrun);
        Assert.Equal(BudgetRefusal.None, (await Store.CloseAsync(CallerOf(fourthToken), fourthLease.Id, default)).Refusal);
        var late = await ReportAsync(fourthToken, fourthLease.Id, 1m);
        Assert.Equal((BudgetRefusal.None, true, 0L), (late.Refusal, late.Overrun, late.LeaseRemainingMicros));
    }

    [Fact]
    public async Task A_grant_larger_than_what_is_left_gets_what_is_left_and_then_nothing()
    {
        var (_, token) = await NewBudgetAsync(25m);
        Assert.Equal(M(20m), (await GrantAsync(Store, token, 20m)).GrantedMicros);

        var partial = await GrantAsync(Store, token, 20m);
        Assert.Equal((BudgetRefusal.None, M(5m), 0L), (partial.Refusal, partial.GrantedMicros, partial.Budget!.AvailableMicros));
        Assert.Equal(BudgetRefusal.BudgetExhausted, (await GrantAsync(Store, token, 0.000001m)).Refusal);
    }

    [Fact]
    public async Task A_report_sent_twice_counts_once_and_usage_beyond_the_lease_is_recorded_as_overrun()
    {
        var (budget, token) = await NewBudgetAsync(10m);
        var lease = (await GrantAsync(Store, token, 4m)).Lease!;

        var first = await ReportAsync(token, lease.Id, 1.5m, "call-1", tokens: 300);
        var again = await ReportAsync(token, lease.Id, 1.5m, "call-1", tokens: 300);
        Assert.False(first.Duplicate);
        Assert.True(again.Duplicate);
        Assert.Equal((M(2.5m), M(6m)), (again.LeaseRemainingMicros, again.BudgetRemainingMicros));

        // 2.5 left on the lease; 3.5 is reported: all of it is spent, 1 of it beyond the lease.
        var over = await ReportAsync(token, lease.Id, 3.5m, "call-2");
        Assert.Equal((0L, M(5m), true), (over.LeaseRemainingMicros, over.BudgetRemainingMicros, over.Overrun));
        var after = (await Store.FindAsync(budget.Id, default))!;
        Assert.Equal((M(5m), 300L, 0L), (after.SpentMicros, after.SpentTokens, after.ReservedMicros));

        // Spend the rest through another lease; once the allocation is spent, a refresh is refused and the lease stays.
        var second = (await GrantAsync(Store, token, 10m)).Lease!;
        Assert.Equal(M(5m), second.GrantedMicros);
        // A report id already counted for the first lease is no retry of a report on this one: refused, not swallowed.
        Assert.Equal(BudgetRefusal.ReportIdTaken, (await ReportAsync(token, second.Id, 5m, "call-1")).Refusal);
        Assert.Equal(M(5m), (await Store.FindAsync(budget.Id, default))!.SpentMicros);
        await ReportAsync(token, second.Id, 5m, "call-3");
        Assert.Equal(BudgetRefusal.BudgetExhausted, (await GrantAsync(Store, token, 1m, lease.Id)).Refusal);
        Assert.Equal(BudgetRefusal.BudgetExhausted, (await GrantAsync(Store, token, 1m)).Refusal);
        Assert.Equal(BudgetState.Exhausted, (await Store.FindAsync(budget.Id, default))!.StateAt(Time.GetUtcNow()));
    }

    [Fact]
    public async Task A_report_after_the_lease_closed_is_still_counted_as_overrun()
    {
        var (budget, token) = await NewBudgetAsync(10m);
        var lease = (await GrantAsync(Store, token, 4m)).Lease!;
        Assert.Equal(M(4m), (await Store.CloseAsync(CallerOf(token), lease.Id, default)).ReturnedMicros);

        var late = await ReportAsync(token, lease.Id, 1m);

        Assert.Equal((BudgetRefusal.None, true, 0L, M(9m)), (late.Refusal, late.Overrun, late.LeaseRemainingMicros, late.BudgetRemainingMicros));
        Assert.Equal(M(1m), (await Store.FindAsync(budget.Id, default))!.SpentMicros);
    }

    [Fact]
    public async Task Revoking_the_budget_stops_grants_reports_and_closes_at_once()
    {
        var (budget, token) = await NewBudgetAsync(10m);
        var lease = (await GrantAsync(Store, token, 4m)).Lease!;

        Assert.True(await Store.RevokeAsync(budget.Id, Time.GetUtcNow(), default));
        Assert.False(await Store.RevokeAsync(budget.Id, Time.GetUtcNow(), default));

        Assert.Equal(BudgetRefusal.BudgetRevoked, (await GrantAsync(Store, token, 1m)).Refusal);
        Assert.Equal(BudgetRefusal.BudgetRevoked, (await GrantAsync(Store, token, 1m, lease.Id)).Refusal);
        Assert.Equal(BudgetRefusal.BudgetRevoked, (await ReportAsync(token, lease.Id, 1m)).Refusal);
        Assert.Equal(BudgetRefusal.BudgetRevoked, (await Store.CloseAsync(CallerOf(token), lease.Id, default)).Refusal);
        Assert.Equal(BudgetState.Revoked, (await Store.FindAsync(budget.Id, default))!.StateAt(Time.GetUtcNow()));
    }

    [Fact]
    public async Task Revoking_an_ic_token_stops_it_alone_and_returns_its_leases_unspent_parts()
    {
        var (budget, token) = await NewBudgetAsync(10m);
        var other = await NewIcTokenAsync(budget, "agent-2");
        var lease = (await GrantAsync(Store, token, 4m)).Lease!;
        await ReportAsync(token, lease.Id, 1m);
        var kept = (await GrantAsync(Store, other, 3m)).Lease!;

        Assert.True(await Store.RevokeIcTokenAsync(budget.Id, token.Jti, Time.GetUtcNow(), default));
        Assert.False(await Store.RevokeIcTokenAsync(budget.Id, token.Jti, Time.GetUtcNow(), default));

        Assert.Equal(BudgetRefusal.IcTokenRevoked, (await GrantAsync(Store, token, 1m)).Refusal);
        Assert.Equal(BudgetRefusal.IcTokenRevoked, (await ReportAsync(token, lease.Id, 1m)).Refusal);
        Assert.Equal(BudgetRefusal.IcTokenRevoked, (await GrantAsync(Store, token, 1m, lease.Id)).Refusal);
        var after = (await Store.FindAsync(budget.Id, default))!;
        // 10 − 1 spent − 3 still held by the other agent's lease.
        Assert.Equal((M(6m), 1), (after.AvailableMicros, after.OpenLeases));
        Assert.NotNull((await Store.FindIcTokenAsync(budget.Id, token.Jti, default))!.RevokedAt);
        Assert.Equal(BudgetRefusal.None, (await ReportAsync(other, kept.Id, 1m)).Refusal);
        // A lease belongs to the token that got it.
        Assert.Equal(BudgetRefusal.LeaseNotFound, (await Store.CloseAsync(CallerOf(other), lease.Id, default)).Refusal);
    }

    [Fact]
    public async Task Unknown_tokens_expired_budgets_and_unknown_leases_are_refused()
    {
        var (budget, token) = await NewBudgetAsync(10m, lifetime: TimeSpan.FromHours(2));
        var stranger = token with { Jti = Ids.NewSecret(16) };
        Assert.Equal(BudgetRefusal.UnknownIcToken, (await GrantAsync(Store, stranger, 1m)).Refusal);
        Assert.Equal(BudgetRefusal.UnknownIcToken, (await GrantAsync(Store, token with { AgentId = "someone-else" }, 1m)).Refusal);
        Assert.Equal(BudgetRefusal.LeaseNotFound, (await ReportAsync(token, Ids.New(Time), 1m)).Refusal);
        Assert.Equal(BudgetRefusal.LeaseNotFound, (await GrantAsync(Store, token, 1m, Ids.New(Time))).Refusal);

        Time.Advance(TimeSpan.FromHours(3));
        Assert.Equal(BudgetRefusal.BudgetExpired, (await GrantAsync(Store, token, 1m)).Refusal);
        Assert.Equal(BudgetState.Expired, (await Store.FindAsync(budget.Id, default))!.StateAt(Time.GetUtcNow()));
    }

    [Fact]
    public async Task The_allocation_moves_either_way_but_never_below_what_is_spent()
    {
        var (budget, token) = await NewBudgetAsync(10m);
        var lease = (await GrantAsync(Store, token, 5m)).Lease!;
        await ReportAsync(token, lease.Id, 3m);

        Assert.Equal(AllocationOutcome.BelowSpent, (await Store.SetAllocationAsync(budget.Id, M(2.999999m), default)).Outcome);
        var (outcome, lowered) = await Store.SetAllocationAsync(budget.Id, M(3m), default);
        Assert.Equal(AllocationOutcome.Changed, outcome);
        // 3 − 3 spent − 2 still held by the open lease.
        Assert.Equal(M(-2m), lowered!.AvailableMicros);
        Assert.Equal(BudgetRefusal.BudgetExhausted, (await GrantAsync(Store, token, 1m)).Refusal);

        Assert.Equal(AllocationOutcome.Changed, (await Store.SetAllocationAsync(budget.Id, M(50m), default)).Outcome);
        Assert.Equal(M(45m), (await Store.FindAsync(budget.Id, default))!.AvailableMicros);
        Assert.Equal(AllocationOutcome.NotFound, (await Store.SetAllocationAsync(Ids.New(Time), M(1m), default)).Outcome);
    }

    [Fact]
    public async Task A_lease_past_its_expiry_is_over_before_maintenance_closes_it()
    {
        var (budget, token) = await NewBudgetAsync(10m);
        var lease = (await GrantAsync(Store, token, 4m)).Lease!;
        Time.Advance(LeaseLifetime);

        // Not yet closed by maintenance: a late report is an overrun, its cost comes out of the lease's reserve.
        var late = await ReportAsync(token, lease.Id, 1m);
        Assert.Equal((BudgetRefusal.None, true, 0L, M(6m)), (late.Refusal, late.Overrun, late.LeaseRemainingMicros, late.BudgetRemainingMicros));
        Assert.Equal(BudgetRefusal.LeaseClosed, (await GrantAsync(Store, token, 1m, lease.Id)).Refusal);
        Assert.Equal(BudgetRefusal.LeaseClosed, (await Store.CloseAsync(CallerOf(token), lease.Id, default)).Refusal);
        var held = (await Store.FindAsync(budget.Id, default))!;
        Assert.Equal((M(1m), M(3m), 1), (held.SpentMicros, held.ReservedMicros, held.OpenLeases));

        // Maintenance returns the rest of the reserve: nothing is counted twice or lost.
        Assert.True(await Store.ExpireLeasesAsync(Time.GetUtcNow(), 100, default) >= 1);
        var after = (await Store.FindAsync(budget.Id, default))!;
        Assert.Equal((M(1m), 0L, 0, M(9m)), (after.SpentMicros, after.ReservedMicros, after.OpenLeases, after.AvailableMicros));
    }

    [Fact]
    public async Task Expired_leases_return_their_unspent_parts_and_ended_budgets_are_purged_after_retention()
    {
        var (budget, token) = await NewBudgetAsync(10m);
        var lease = (await GrantAsync(Store, token, 4m)).Lease!;
        await ReportAsync(token, lease.Id, 1m);
        var (ended, _) = await NewBudgetAsync(5m);
        await Store.RevokeAsync(ended.Id, Time.GetUtcNow(), default);

        Assert.Equal(0, await Store.ExpireLeasesAsync(Time.GetUtcNow(), 100, default));
        Time.Advance(LeaseLifetime + TimeSpan.FromMinutes(1));
        Assert.True(await Store.ExpireLeasesAsync(Time.GetUtcNow(), 100, default) >= 1);

        var after = (await Store.FindAsync(budget.Id, default))!;
        Assert.Equal((M(9m), 0, 0L), (after.AvailableMicros, after.OpenLeases, after.ReservedMicros));
        Assert.Equal(BudgetRefusal.LeaseClosed, (await Store.CloseAsync(CallerOf(token), lease.Id, default)).Refusal);

        // Ended (revoked) budgets go once they have been over longer than the retention; running ones stay.
        Assert.Equal(0, await Store.PurgeAsync(Time.GetUtcNow().AddDays(-1), 100, default));
        Assert.NotNull(await Store.FindAsync(ended.Id, default));
        Assert.True(await Store.PurgeAsync(Time.GetUtcNow().AddHours(1), 100, default) >= 1);
        Assert.Null(await Store.FindAsync(ended.Id, default));
        Assert.Null(await Store.FindIcTokenAsync(ended.Id, token.Jti, default));
        Assert.NotNull(await Store.FindAsync(budget.Id, default));
    }

    /// <summary>Budget A (agents 1 and 2) and B (agent 1, another owner), reported over 1 and 2 December, a report at each side of midnight.</summary>
    protected async Task<(Budget A, Budget B)> SpendOverMidnightAsync()
    {
        var (a, a1) = await NewBudgetAsync(100m, "agent-1");
        var a2 = await NewIcTokenAsync(a, "agent-2");
        var (b, b1) = await NewBudgetAsync(100m, "agent-1");
        var leases = new Dictionary<IcTokenRecord, string>();
        foreach (var token in new[] { a1, a2, b1 })
        {
            leases[token] = (await GrantAsync(Store, token, 20m)).Lease!.Id;
        }

        Time.Advance(new DateTimeOffset(2026, 12, 1, 23, 59, 59, 999, TimeSpan.Zero) - Time.GetUtcNow());
        Assert.False((await ReportAsync(a1, leases[a1], 1m, tokens: 10)).Duplicate);
        Time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.False((await ReportAsync(a1, leases[a1], 2m, "same", 20)).Duplicate);
        Assert.True((await ReportAsync(a1, leases[a1], 2m, "same", 20)).Duplicate);
        await ReportAsync(a2, leases[a2], 0.5m, tokens: 5);
        await ReportAsync(b1, leases[b1], 4m);
        return (a, b);
    }

    private static (string, string, long, long, long)[] Rows(IEnumerable<BudgetSpend> spend) =>
        [.. spend.Select(s => (s.BudgetId, s.AgentId, s.Requests, s.Tokens, s.CostMicros)).Order()];

    [Fact]
    public async Task Spend_by_budget_and_agent_counts_each_report_once_on_its_utc_day_and_sums_to_the_budgets_own_figures()
    {
        var (a, b) = await SpendOverMidnightAsync();
        var first = new DateOnly(2026, 12, 1);
        var second = first.AddDays(1);

        Assert.Equal([(a.Id, "agent-1", 1L, 10L, M(1m))], Rows(await Store.ListSpendAsync(first, first, null, default)));
        Assert.Equal(
            Rows([new(a.Id, a.Name, a.UserId, "agent-1", 1, 20, M(2m)), new(a.Id, a.Name, a.UserId, "agent-2", 1, 5, M(0.5m)), new(b.Id, b.Name, b.UserId, "agent-1", 1, 0, M(4m))]),
            Rows(await Store.ListSpendAsync(second, second, null, default)));
        Assert.Empty(await Store.ListSpendAsync(second.AddDays(1), second.AddDays(5), null, default));

        // Both days, one owner's: the budget's own spent and per-agent figures, with its name and owner.
        var adas = await Store.ListSpendAsync(first, second, a.UserId, default);
        Assert.All(adas, s => Assert.Equal((a.Id, a.Name, a.UserId), (s.BudgetId, s.BudgetName, s.OwnerId)));
        var found = (await Store.FindAsync(a.Id, default))!;
        Assert.Equal((found.SpentMicros, found.SpentTokens), (adas.Sum(s => s.CostMicros), adas.Sum(s => s.Tokens)));
        var byAgent = adas.GroupBy(s => s.AgentId).ToDictionary(g => g.Key, g => g.Sum(s => s.CostMicros));
        Assert.Equal((await Store.SpendByAgentAsync(a.Id, default)).OrderBy(p => p.Key), byAgent.OrderBy(p => p.Key));
        Assert.Equal(3, adas.Sum(s => s.Requests));

        // A purged budget's spend goes with it.
        Assert.True(await Store.RevokeAsync(b.Id, Time.GetUtcNow(), default));
        Assert.True(await Store.PurgeAsync(Time.GetUtcNow().AddHours(1), 100, default) >= 1);
        Assert.DoesNotContain(await Store.ListSpendAsync(first, second, null, default), s => s.BudgetId == b.Id);
    }

    [Fact]
    public async Task Budgets_list_by_owner_in_creation_order_and_page()
    {
        var (first, _) = await NewBudgetAsync(1m);
        var owner = first.UserId;
        var more = new List<Budget> { first };
        for (var i = 0; i < 2; i++)
        {
            Time.Advance(TimeSpan.FromMilliseconds(5));
            var budget = first with { Id = Ids.New(Time), Name = "more-" + i };
            await Store.CreateAsync(budget, default);
            more.Add(budget);
        }

        var page = await Store.ListAsync(owner, null, 2, default);
        Assert.Equal(more.Take(2).Select(b => b.Id), page.Items.Select(b => b.Id));
        var rest = await Store.ListAsync(owner, page.Next, 2, default);
        Assert.Equal([more[2].Id], rest.Items.Select(b => b.Id));
        Assert.Null(rest.Next);
        Assert.Empty((await Store.ListAsync(Ids.New(Time), null, 10, default)).Items);
        var all = await Store.ListAsync(null, null, 1000, default);
        Assert.Superset(more.Select(b => b.Id).ToHashSet(), all.Items.Select(b => b.Id).ToHashSet());
    }
}

public sealed class SqliteBudgetStoreTests : BudgetStoreContractTests
{
    private readonly TempDirectory directory = new();

    protected override Task<IDictionary<string, string?>> CreateStoreSettingsAsync() =>
        Task.FromResult<IDictionary<string, string?>>(new Dictionary<string, string?>
        {
            ["IronAuth:Store"] = "sqlite",
            ["IronAuth:Sqlite:Path"] = Path.Combine(directory.Path, "budgets.db"),
        });

    protected override Task DisposeStoreAsync()
    {
        directory.Dispose();
        return Task.CompletedTask;
    }
}

public sealed class TableBudgetStoreTests : BudgetStoreContractTests
{
    protected override async Task<IDictionary<string, string?>> CreateStoreSettingsAsync() => (await Azurite.GetAsync()).NewStoreSettings();

    [Fact]
    public async Task A_one_day_spend_query_reads_the_days_index_and_only_the_budgets_reported_that_day()
    {
        var (a, b) = await SpendOverMidnightAsync();
        for (var i = 0; i < 5; i++)
        {
            // Idle budgets, and one reported only the day before: none of them is read for 2 December.
            await NewBudgetAsync(10m);
        }

        var second = new DateOnly(2026, 12, 2);
        IReadOnlyList<BudgetSpend> spend = [];
        Assert.Equal(3, await TableStoreTests.RoundTripsAsync(async () => spend = await Store.ListSpendAsync(second, second, null, default)));
        Assert.Equal(new[] { a.Id, b.Id }.Order(StringComparer.Ordinal), spend.Select(s => s.BudgetId).Distinct().Order(StringComparer.Ordinal));

        // The purge takes the budget's index entries with it: the day's query no longer reads it.
        Assert.True(await Store.RevokeAsync(b.Id, Time.GetUtcNow(), default));
        Assert.True(await Store.PurgeAsync(Time.GetUtcNow().AddHours(1), 100, default) >= 1);
        Assert.Equal(2, await TableStoreTests.RoundTripsAsync(() => Store.ListSpendAsync(second, second, null, default)));
    }
}
