using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Azure.Data.Tables;
using IronAuth.Core;
using IronAuth.Core.Limits;
using IronAuth.Core.Passwords;
using IronAuth.Core.Sessions;
using IronAuth.Core.Storage;
using IronAuth.Core.Storage.Tables;
using IronAuth.Core.Tokens;
using IronAuth.Core.Users;
using IronAuth.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace IronAuth.Tests.Storage;

/// <summary>The storage contract against Table Storage (Azurite), plus races run from two "processes" at once.</summary>
public sealed class TableStoreTests : StoreContractTests
{
    // Round trips counted for the async flow that set it: other test classes use the store at the same time.
    private static readonly AsyncLocal<StrongBox<long>?> CountedFlow = new();

    private IDictionary<string, string?> settings = null!;

    protected override async Task<IDictionary<string, string?>> CreateStoreSettingsAsync() =>
        settings = (await Azurite.GetAsync()).NewStoreSettings();

    [Fact]
    public async Task Concurrent_demotions_from_two_processes_leave_exactly_one_admin()
    {
        // Its own tables: the contract's other tests create admins too.
        var isolated = (await Azurite.GetAsync()).NewStoreSettings();
        await using var first = BuildServices(isolated);
        await using var second = BuildServices(isolated);
        var stores = new[] { first.GetRequiredService<IUserStore>(), second.GetRequiredService<IUserStore>() };
        await first.GetRequiredService<Core.Storage.IStoreLifecycle>().InitializeAsync(default);
        var admins = Enumerable.Range(0, 5).Select(_ => NewUser(Role.Admin)).ToList();
        foreach (var admin in admins)
        {
            Assert.True(await stores[0].CreateAsync(admin, default));
        }

        // Every admin is demoted at once, each through the manager's read-modify-write loop, half of them
        // from each process: the roster's ETag lets exactly four through.
        var results = await Task.WhenAll(admins.Select((admin, i) => stores[i % 2].ChangeAsync(
            admin.Id, user => user with { Role = Role.User }, default, keepAnActiveAdmin: user => user.Role == Role.Admin && user.IsActive)));

        Assert.Equal(4, results.Count(r => r.Succeeded));
        Assert.Equal("last_admin", Assert.Single(results, r => !r.Succeeded).Failure!.Code);
        var remaining = await stores[1].ListAsync(new UserQuery(Role.Admin, UserStatus.Active, null, 10), default);
        Assert.Single(remaining.Items);
    }

    [Fact]
    public async Task Concurrent_creates_of_one_name_from_two_processes_store_exactly_one()
    {
        await using var other = BuildServices(settings);
        var stores = new[] { Users, other.GetRequiredService<IUserStore>() };
        var name = "race-" + Guid.NewGuid().ToString("N")[..8];

        var created = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => stores[i % 2].CreateAsync(NewUser(Role.Admin, name), default)));

        Assert.Single(created, c => c);
        var winner = (await Users.FindByUsernameAsync(name, default))!;
        Assert.Equal(winner.Id, (await other.GetRequiredService<IUserStore>().FindByIdAsync(winner.Id, default))!.Id);
    }

    [Fact]
    public async Task Concurrent_rotations_decide_consistently_round_after_round()
    {
        // The store decides from two parallel reads; a loser that read the token before the winner spent it
        // and the session after a third caller revoked it once answered Invalid. Repeat the race to catch that.
        for (var round = 0; round < 20; round++)
        {
            var now = Time.GetUtcNow();
            var session = new Session { Id = Ids.New(Time), UserId = Ids.New(Time), CreatedAt = now, ExpiresAt = now.AddDays(1) };
            var token = RefreshTokens.New(session.Id);
            await Sessions.CreateAsync(session, new RefreshTokenRecord(Ids.Digest(token), session.Id, now, session.ExpiresAt), default);

            var outcomes = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => Sessions.RotateAsync(
                session.Id, Ids.Digest(token), new RefreshTokenRecord(Ids.Digest(RefreshTokens.New(session.Id)), session.Id, now, now.AddDays(2)), now, default)));

            Assert.Single(outcomes, o => o == RotationOutcome.Rotated);
            Assert.Equal(11, outcomes.Count(o => o == RotationOutcome.Reused));
        }
    }

    [Fact]
    public async Task Concurrent_reset_issues_for_one_user_leave_exactly_one_usable_ticket()
    {
        // ETags cannot guard an absence: each issue sees no earlier ticket, so only the partition's
        // "latest" entity makes the second one re-read and spend the first.
        var userId = Ids.New(Time);
        var now = Time.GetUtcNow();
        var tickets = Enumerable.Range(0, 6).Select(_ => new PasswordResetTicket(Ids.Digest(Ids.NewSecret()), userId, now, now.AddMinutes(30))).ToList();

        await Task.WhenAll(tickets.Select(t => Resets.AddAsync(t, default)));

        var usable = await Task.WhenAll(tickets.Select(t => Resets.FindUsableAsync(t.Digest, now, default)));
        Assert.Single(usable, u => u is not null);
    }

    [Fact]
    public async Task A_rotation_is_not_reuse_when_the_same_call_is_repeated_after_it_landed()
    {
        // What the SDK does when a committed batch's answer is lost: it sends the same request again.
        var now = Time.GetUtcNow();
        var session = new Session { Id = Ids.New(Time), UserId = Ids.New(Time), CreatedAt = now, ExpiresAt = now.AddDays(1) };
        var token = RefreshTokens.New(session.Id);
        await Sessions.CreateAsync(session, new RefreshTokenRecord(Ids.Digest(token), session.Id, now, session.ExpiresAt), default);
        var next = new RefreshTokenRecord(Ids.Digest(RefreshTokens.New(session.Id)), session.Id, now, now.AddDays(2));

        Assert.Equal(RotationOutcome.Rotated, await Sessions.RotateAsync(session.Id, Ids.Digest(token), next, now, default));
        Assert.Equal(RotationOutcome.Rotated, await Sessions.RotateAsync(session.Id, Ids.Digest(token), next, now, default));
        Assert.Null((await Sessions.FindAsync(session.Id, default))!.RevokedAt);

        var other = new RefreshTokenRecord(Ids.Digest(RefreshTokens.New(session.Id)), session.Id, now, now.AddDays(2));
        Assert.Equal(RotationOutcome.Reused, await Sessions.RotateAsync(session.Id, Ids.Digest(token), other, now, default));
        Assert.Equal("refresh_token_reuse", (await Sessions.FindAsync(session.Id, default))!.RevokedReason);
    }

    [Fact]
    public async Task A_warm_verify_costs_at_most_two_store_round_trips()
    {
        // Issue 8. Warm: the token and its owner come from the credential cache. Last use is recorded on every
        // verify here (resolution 0), which on Tables rides along with the metering write.
        var tuned = WithSettings(settings, ("IronAuth:Tokens:CacheTtl", "00:01:00"), ("IronAuth:Tokens:LastUsedResolution", "00:00:00"));
        await using var process = BuildServices(tuned);
        var (token, id) = await IssueTokenAsync(process);
        var verifier = process.GetRequiredService<TokenVerifier>();
        Assert.True((await verifier.VerifyAsync(token, 0, 0, default)).IsValid);

        var costs = new List<long>();
        for (var i = 0; i < 20; i++)
        {
            Time.Advance(TimeSpan.FromMilliseconds(100));
            costs.Add(await RoundTripsAsync(async () => Assert.True((await verifier.VerifyAsync(token, 10, 0.001m, default)).IsValid)));
        }

        Assert.All(costs, cost => Assert.InRange(cost, 1, 2));
        Assert.Equal(Time.GetUtcNow(), (await ApiTokens.FindByIdAsync(id, default))!.LastUsedAt);
    }

    [Fact]
    public async Task An_expired_token_is_refreshed_in_one_round_trip_that_sees_another_process_revoke_it()
    {
        // Issue 17. After CacheTtl the token is read again by its owner and id (one round trip), not through the
        // digest index and the limits entity (three), and that read is as fresh as the full one.
        var tuned = WithSettings(settings, ("IronAuth:Tokens:CacheTtl", "00:00:02"));
        await using var process = BuildServices(tuned);
        await using var other = BuildServices(tuned);
        var (token, id) = await IssueTokenAsync(process);
        var verifier = process.GetRequiredService<TokenVerifier>();
        Assert.True((await verifier.VerifyAsync(token, 0, 0, default)).IsValid);

        var known = (await ApiTokens.FindByDigestAsync(Ids.Digest(token), default))!;
        Assert.Equal(1, await RoundTripsAsync(async () => Assert.Equal(id, (await ApiTokens.RefreshAsync(known, default))?.Id)));

        // Token and owner both expired: the refresh (1), the owner (1) and the metering write (1, 2 after a lost race).
        Time.Advance(TimeSpan.FromSeconds(2));
        var cold = await RoundTripsAsync(async () => Assert.True((await verifier.VerifyAsync(token, 0, 0, default)).IsValid));
        Assert.InRange(cold, 3, 4);

        // Revoked by another process: this one's cached copy stands until the TTL, then the refresh sees it.
        Assert.True(await other.GetRequiredService<IApiTokenStore>().RevokeAsync(id, Time.GetUtcNow(), default));
        Time.Advance(TimeSpan.FromSeconds(1));
        Assert.True((await verifier.VerifyAsync(token, 0, 0, default)).IsValid);
        Time.Advance(TimeSpan.FromSeconds(1));
        var revoked = await RoundTripsAsync(async () => Assert.Equal(VerdictCode.Revoked, (await verifier.VerifyAsync(token, 0, 0, default)).Code));
        Assert.Equal(1, revoked);
    }

    [Fact]
    public async Task Concurrent_verifies_of_an_expired_token_refresh_it_once()
    {
        // Issue 17: when the entry expires under load, every request misses at once; one refresh serves them all.
        // The token is revoked (by another process), so nothing else is read or written: the refresh is all there is.
        var tuned = WithSettings(settings, ("IronAuth:Tokens:CacheTtl", "00:00:02"));
        await using var process = BuildServices(tuned);
        await using var other = BuildServices(tuned);
        var (token, id) = await IssueTokenAsync(process);
        var verifier = process.GetRequiredService<TokenVerifier>();
        Assert.True((await verifier.VerifyAsync(token, 0, 0, default)).IsValid);
        Assert.True(await other.GetRequiredService<IApiTokenStore>().RevokeAsync(id, Time.GetUtcNow(), default));
        Time.Advance(TimeSpan.FromSeconds(2));

        var cost = await RoundTripsAsync(async () =>
        {
            var verdicts = await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(() => verifier.VerifyAsync(token, 0, 0, default))));
            Assert.All(verdicts, v => Assert.Equal(VerdictCode.Revoked, v.Code));
        });

        Assert.Equal(1, cost);
    }

    [Fact]
    public async Task Verifies_alternating_between_two_processes_settle_at_two_round_trips_and_stay_exact()
    {
        // Each process's last known state is stale after the other's write: the first write against it fails
        // (412), after which the process reads before writing instead of failing every time.
        var tuned = WithSettings(settings, ("IronAuth:Tokens:CacheTtl", "00:01:00"));
        await using var first = BuildServices(tuned);
        await using var second = BuildServices(tuned);
        var (token, id) = await IssueTokenAsync(first);
        var verifiers = new[] { first.GetRequiredService<TokenVerifier>(), second.GetRequiredService<TokenVerifier>() };
        for (var i = 0; i < 4; i++)
        {
            Assert.True((await verifiers[i % 2].VerifyAsync(token, 0, 0, default)).IsValid);
        }

        var costs = new List<long>();
        for (var i = 0; i < 20; i++)
        {
            costs.Add(await RoundTripsAsync(async () => Assert.True((await verifiers[i % 2].VerifyAsync(token, 0, 0, default)).IsValid)));
        }

        Assert.All(costs, cost => Assert.InRange(cost, 1, 2));
        var today = UsageDay.DayOf(Time.GetUtcNow());
        Assert.Equal(24, (await Usage.ListAsync(id, today, today, default)).Single().Requests);
    }

    [Fact]
    public async Task A_digest_index_entry_without_its_token_finds_nothing()
    {
        // What a create that failed after inserting its lookups leaves behind.
        var digest = Ids.Digest(ApiTokenFormat.New());
        var storage = Services.GetRequiredService<TableStorage>();
        await storage.Tokens.AddEntityAsync(new TableEntity("digest:" + Convert.ToHexStringLower(digest), "token")
        {
            ["OwnerId"] = Ids.New(Time),
            ["TokenId"] = Ids.New(Time),
        });

        Assert.Null(await ApiTokens.FindByDigestAsync(digest, default));
    }

    [Fact]
    public async Task Purges_read_only_the_index_and_the_partitions_it_names()
    {
        // Fill the data tables with what no purge may touch for days (live tokens, buckets that refill slowly),
        // let a first run move the buckets' entries to when they are due, then count a run with nothing to do.
        for (var i = 0; i < 30; i++)
        {
            await ApiTokens.CreateAsync(NewApiToken(), false, default);
            await Buckets.TakeAsync(Ids.New(Time), 5, 0.00001, Time.GetUtcNow(), default);
        }

        var job = Services.GetRequiredService<Core.Maintenance.MaintenanceJob>();
        await job.RunAsync(default);

        // Each of the twelve index ranges (nine purges, the usage purge's second: the analytics activity index, budget
        // leases and budgets) is read once; lease take and release (a read and a write each), one audit entry (two
        // inserts): 18.
        var cost = await RoundTripsAsync(() => job.RunAsync(default));
        Assert.InRange(cost, 12, 18);
    }

    [Fact]
    public async Task A_one_day_usage_report_reads_the_days_index_and_only_the_tokens_active_that_day()
    {
        var verifier = Services.GetRequiredService<TokenVerifier>();
        var issued = new List<(string Token, string Id)>();
        for (var i = 0; i < 12; i++)
        {
            issued.Add(await IssueTokenAsync(Services));
            Assert.True((await verifier.VerifyAsync(issued[^1].Token, 5, 0, default)).IsValid);
        }

        Time.Advance(TimeSpan.FromDays(1));
        foreach (var (token, _) in issued.Take(2))
        {
            Assert.True((await verifier.VerifyAsync(token, 1, 0, default)).IsValid);
        }

        var analytics = Services.GetRequiredService<Core.Analytics.IUsageAnalyticsStore>();
        var today = UsageDay.DayOf(Time.GetUtcNow());
        IReadOnlyList<Core.Analytics.TokenActivity> activity = [];
        var cost = await RoundTripsAsync(async () => activity = await analytics.ListActivityAsync(today, today, null, default));

        // One read of today's index partition, then one range read per token used today: none for the ten idle ones.
        Assert.Equal(3, cost);
        Assert.Equal(issued.Take(2).Select(t => t.Id).Order(StringComparer.Ordinal), activity.Select(a => a.TokenId).Order(StringComparer.Ordinal));
        Assert.All(activity, a => Assert.Equal((1L, 1L), (a.Days.Single().Requests, a.Days.Single().Tokens)));
        var yesterday = await analytics.ListActivityAsync(today.AddDays(-1), today.AddDays(-1), null, default);
        Assert.Equal(12, yesterday.Count);
        Assert.All(yesterday, a => Assert.Equal(5L, a.Days.Single().Tokens));
    }

    private async Task<(string Token, string Id)> IssueTokenAsync(IServiceProvider process)
    {
        var owner = NewUser();
        Assert.True(await process.GetRequiredService<IUserStore>().CreateAsync(owner, default));
        var issued = await process.GetRequiredService<TokenManager>().CreateAsync(
            Actor.System, new NewApiToken(owner.Id, "hot path", null, 30, new TokenLimits(RequestsPerSecond: 1000, Burst: 1000)), TokenCreator.LocalOperator, default);
        return (issued.Value!.Plaintext, issued.Value.Token.Id);
    }

    /// <summary>The store's round trips made by <paramref name="action"/>'s async flow (other tests' are not counted).</summary>
    /// <remarks>
    /// Read from <c>ironauth.store.operation.duration</c>, which times each round trip once, on the flow that made it:
    /// <c>ironauth.store.round_trips</c> is counted per process and read at collection, so it cannot tell flows apart
    /// (<c>StoreMetricsTests</c> checks that the two agree). The SQLite metering writer's statements are timed as one
    /// batch, on its own thread: no verify's flow.
    /// </remarks>
    internal static async Task<long> RoundTripsAsync(Func<Task> action)
    {
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == StoreMetrics.MeterName && instrument.Name == StoreMetrics.OperationDuration.Name)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((_, _, _, _) =>
        {
            if (CountedFlow.Value is { } counted)
            {
                Interlocked.Increment(ref counted.Value);
            }
        });
        listener.Start();
        var box = new StrongBox<long>();
        CountedFlow.Value = box;
        try
        {
            await action();
        }
        finally
        {
            CountedFlow.Value = null;
        }

        return Interlocked.Read(ref box.Value);
    }

    private static Dictionary<string, string?> WithSettings(IDictionary<string, string?> settings, params (string Key, string Value)[] extra)
    {
        var all = new Dictionary<string, string?>(settings);
        foreach (var (key, value) in extra)
        {
            all[key] = value;
        }

        return all;
    }
}
