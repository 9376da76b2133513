using IronAuth.Core;
using IronAuth.Core.Audit;
using IronAuth.Core.Configuration;
using IronAuth.Core.Limits;
using IronAuth.Core.Maintenance;
using IronAuth.Core.Passwords;
using IronAuth.Core.Sessions;
using IronAuth.Core.Signing;
using IronAuth.Core.Storage;
using IronAuth.Core.Tokens;
using IronAuth.Core.Users;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace IronAuth.Tests.Storage;

/// <summary>
/// The storage contract: every store implementation inherits this class unchanged. Anything one store
/// passes and another does not is a bug in that store.
/// </summary>
public abstract partial class StoreContractTests : IAsyncLifetime
{
    private ServiceProvider services = null!;
    private IDictionary<string, string?> storeSettings = null!;

    protected FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero));

    protected IServiceProvider Services => services;

    protected IUserStore Users => services.GetRequiredService<IUserStore>();

    protected ISessionStore Sessions => services.GetRequiredService<ISessionStore>();

    protected IAuditStore Audit => services.GetRequiredService<IAuditStore>();

    protected IPasswordResetStore Resets => services.GetRequiredService<IPasswordResetStore>();

    protected ISigningKeyStore SigningKeys => services.GetRequiredService<ISigningKeyStore>();

    protected IApiTokenStore ApiTokens => services.GetRequiredService<IApiTokenStore>();

    protected IRateBucketStore Buckets => services.GetRequiredService<IRateBucketStore>();

    protected IUsageStore Usage => services.GetRequiredService<IUsageStore>();

    protected IMeteringStore Metering => services.GetRequiredService<IMeteringStore>();

    /// <summary>Settings (IronAuth:…) that point the store at a fresh, empty place for this test class.</summary>
    protected abstract Task<IDictionary<string, string?>> CreateStoreSettingsAsync();

    protected virtual Task DisposeStoreAsync() => Task.CompletedTask;

    public async Task InitializeAsync()
    {
        storeSettings = await CreateStoreSettingsAsync();
        services = BuildServices(storeSettings);
        await services.GetRequiredService<IStoreLifecycle>().InitializeAsync(default);
    }

    public async Task DisposeAsync()
    {
        await services.DisposeAsync();
        await DisposeStoreAsync();
    }

    /// <summary>A second, independent service provider over the same store: another "process".</summary>
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

    protected User NewUser(Role role = Role.User, string? username = null)
    {
        var now = Time.GetUtcNow();
        return new User
        {
            Id = Ids.New(Time),
            Username = username ?? "u-" + Guid.NewGuid().ToString("N")[..12],
            Role = role,
            PasswordHash = "$2a$04$notarealhashnotarealhashnotarealhashnotarealhashnot",
            CreatedAt = now,
            UpdatedAt = now,
        };
    }

    [Fact]
    public async Task Created_user_reads_back_by_id_and_case_insensitive_name()
    {
        var user = NewUser() with { Email = "a@example.com", DisplayName = "Ä Name", LockedUntil = Time.GetUtcNow().AddMinutes(1) };
        Assert.True(await Users.CreateAsync(user, default));

        var byId = await Users.FindByIdAsync(user.Id, default);
        var byName = await Users.FindByUsernameAsync(UsernameRules.Normalize(user.Username.ToUpperInvariant()), default);

        Assert.NotNull(byId);
        Assert.Equal(user with { Version = byId!.Version }, byId);
        Assert.Equal(user.Id, byName?.Id);
        Assert.Null(await Users.FindByIdAsync(Ids.New(Time), default));
    }

    [Fact]
    public async Task Username_taken_in_another_case_is_refused()
    {
        var user = NewUser(username: "Mixed-" + Guid.NewGuid().ToString("N")[..8]);
        Assert.True(await Users.CreateAsync(user, default));

        Assert.False(await Users.CreateAsync(NewUser(username: user.Username.ToLowerInvariant()), default));
    }

    [Fact]
    public async Task Concurrent_creates_of_one_name_store_exactly_one()
    {
        var name = "race-" + Guid.NewGuid().ToString("N")[..8];
        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Users.CreateAsync(NewUser(username: name), default)));
        Assert.Single(results, r => r);
    }

    [Fact]
    public async Task Update_against_a_stale_version_is_a_conflict()
    {
        var user = NewUser();
        await Users.CreateAsync(user, default);
        var read = (await Users.FindByIdAsync(user.Id, default))!;

        Assert.Equal(WriteOutcome.Written, await Users.UpdateAsync(read with { Email = "first@example.com" }, false, default));
        Assert.Equal(WriteOutcome.Conflict, await Users.UpdateAsync(read with { Email = "second@example.com" }, false, default));
        Assert.Equal("first@example.com", (await Users.FindByIdAsync(user.Id, default))!.Email);
    }

    [Fact]
    public async Task Concurrent_changes_of_one_user_all_land()
    {
        // A burst of sign-ins for one account: each counts a failure on the same row through the read-modify-write loop.
        var user = NewUser();
        await Users.CreateAsync(user, default);

        var results = await Task.WhenAll(Enumerable.Range(0, 24).Select(_ => Task.Run(() => Users.ChangeAsync(
            user.Id, current => current with { FailedLogins = current.FailedLogins + 1 }, default))));

        Assert.All(results, r => Assert.Null(r.Failure));
        Assert.Equal(24, (await Users.FindByIdAsync(user.Id, default))!.FailedLogins);
    }

    [Fact]
    public async Task Concurrent_demotions_leave_an_active_admin()
    {
        // Admins of their own store instance: other tests' admins would make the rule vacuous.
        var a = NewUser(Role.Admin);
        var b = NewUser(Role.Admin);
        var admins = (await Users.ListAsync(new UserQuery(Role.Admin, UserStatus.Active, null, 200), default)).Items;
        foreach (var existing in admins)
        {
            await Users.UpdateAsync(existing with { Role = Role.User }, false, default);
        }

        await Users.CreateAsync(a, default);
        await Users.CreateAsync(b, default);
        var readA = (await Users.FindByIdAsync(a.Id, default))!;
        var readB = (await Users.FindByIdAsync(b.Id, default))!;

        var outcomes = await Task.WhenAll(
            Users.UpdateAsync(readA with { Role = Role.User }, true, default),
            Users.UpdateAsync(readB with { Role = Role.User }, true, default));

        Assert.Single(outcomes, o => o == WriteOutcome.Written);
        Assert.Single(outcomes, o => o == WriteOutcome.LastAdmin);
        Assert.Single((await Users.ListAsync(new UserQuery(Role.Admin, UserStatus.Active, null, 200), default)).Items);
    }

    [Fact]
    public async Task Listing_pages_through_every_user_once_with_filters()
    {
        var mine = new HashSet<string>();
        for (var i = 0; i < 7; i++)
        {
            var user = NewUser(Role.Viewer) with { Status = i == 0 ? UserStatus.Suspended : UserStatus.Active };
            await Users.CreateAsync(user, default);
            if (i > 0)
            {
                mine.Add(user.Id);
            }
        }

        var seen = new List<string>();
        string? position = null;
        do
        {
            var page = await Users.ListAsync(new UserQuery(Role.Viewer, UserStatus.Active, position, 3), default);
            Assert.True(page.Items.Count <= 3);
            Assert.All(page.Items, u => Assert.Equal((Role.Viewer, UserStatus.Active), (u.Role, u.Status)));
            seen.AddRange(page.Items.Select(u => u.Id));
            position = page.Next;
        }
        while (position is not null);

        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.Superset(mine, seen.ToHashSet());
    }

    [Fact]
    public async Task Concurrent_rotations_of_one_refresh_token_rotate_exactly_once_then_reuse_revokes()
    {
        var (session, token) = await NewSessionAsync();
        var now = Time.GetUtcNow();

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 16).Select(i =>
            Sessions.RotateAsync(session.Id, Ids.Digest(token), NextToken(session.Id, out _), now, default)));

        Assert.Single(outcomes, o => o == RotationOutcome.Rotated);
        Assert.All(outcomes.Where(o => o != RotationOutcome.Rotated), o => Assert.Equal(RotationOutcome.Reused, o));
        Assert.NotNull((await Sessions.FindAsync(session.Id, default))!.RevokedAt);
    }

    [Fact]
    public async Task Rotation_chains_and_refuses_unknown_expired_and_revoked()
    {
        var (session, token) = await NewSessionAsync();
        var now = Time.GetUtcNow();

        Assert.Equal(RotationOutcome.Invalid, await Sessions.RotateAsync(session.Id, Ids.Digest("unknown"), NextToken(session.Id, out _), now, default));
        var next = NextToken(session.Id, out var nextToken);
        Assert.Equal(RotationOutcome.Rotated, await Sessions.RotateAsync(session.Id, Ids.Digest(token), next, now, default));
        Assert.Equal(RotationOutcome.Invalid, await Sessions.RotateAsync(session.Id, Ids.Digest(nextToken), NextToken(session.Id, out _), next.ExpiresAt, default));
        Assert.Equal(next.ExpiresAt, (await Sessions.FindAsync(session.Id, default))!.ExpiresAt);

        Assert.True(await Sessions.RevokeAsync(session.Id, "logout", now, default));
        Assert.False(await Sessions.RevokeAsync(session.Id, "logout", now, default));
        Assert.Equal(RotationOutcome.Invalid, await Sessions.RotateAsync(session.Id, Ids.Digest(nextToken), NextToken(session.Id, out _), now, default));
    }

    [Fact]
    public async Task Revoke_all_spares_the_named_session_and_other_users()
    {
        var userId = Ids.New(Time);
        var (keep, _) = await NewSessionAsync(userId);
        var (end1, _) = await NewSessionAsync(userId);
        var (end2, _) = await NewSessionAsync(userId);
        var (other, _) = await NewSessionAsync();

        Assert.Equal(2, await Sessions.RevokeAllAsync(userId, keep.Id, "password_changed", Time.GetUtcNow(), default));

        Assert.Null((await Sessions.FindAsync(keep.Id, default))!.RevokedAt);
        Assert.Equal("password_changed", (await Sessions.FindAsync(end1.Id, default))!.RevokedReason);
        Assert.NotNull((await Sessions.FindAsync(end2.Id, default))!.RevokedAt);
        Assert.Null((await Sessions.FindAsync(other.Id, default))!.RevokedAt);
    }

    [Fact]
    public async Task Audit_lists_newest_first_per_user_in_pages()
    {
        var userId = Ids.New(Time);
        var written = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            Time.Advance(TimeSpan.FromMilliseconds(1));
            var entry = AuditEntry.Create(Time, i % 2 == 0 ? new Actor(userId, "me", "10.0.0.1") : Actor.System, "test.action", "user", userId,
                new Dictionary<string, string> { ["n"] = i.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            await Audit.AppendAsync(entry, default);
            written.Add(entry.Id);
        }

        await Audit.AppendAsync(AuditEntry.Create(Time, Actor.System, "unrelated"), default);

        var seen = new List<AuditEntry>();
        string? position = null;
        do
        {
            var page = await Audit.ListAsync(userId, position, 2, default);
            seen.AddRange(page.Items);
            position = page.Next;
        }
        while (position is not null);

        Assert.Equal(Enumerable.Reverse(written), seen.Select(e => e.Id));
        Assert.Equal("4", seen[0].Details["n"]);
        Assert.Equal("10.0.0.1", seen[0].ClientIp);
    }

    [Fact]
    public async Task Password_reset_tickets_spend_once_and_a_new_one_spends_the_old()
    {
        var userId = Ids.New(Time);
        var now = Time.GetUtcNow();
        var first = new PasswordResetTicket(Ids.Digest(Ids.NewSecret()), userId, now, now.AddMinutes(30));
        var second = new PasswordResetTicket(Ids.Digest(Ids.NewSecret()), userId, now, now.AddMinutes(30));
        await Resets.AddAsync(first, default);
        Assert.NotNull(await Resets.FindUsableAsync(first.Digest, now, default));

        await Resets.AddAsync(second, default);

        Assert.Null(await Resets.FindUsableAsync(first.Digest, now, default));
        Assert.False(await Resets.SpendAsync(first.Digest, now, default));
        Assert.Null(await Resets.FindUsableAsync(second.Digest, now.AddMinutes(31), default));
        var spends = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Resets.SpendAsync(second.Digest, now, default)));
        Assert.Single(spends, s => s);
    }

    [Fact]
    public async Task Spending_all_of_a_users_reset_tickets_leaves_other_users_tickets_usable()
    {
        var userId = Ids.New(Time);
        var otherId = Ids.New(Time);
        var now = Time.GetUtcNow();
        var mine = new PasswordResetTicket(Ids.Digest(Ids.NewSecret()), userId, now, now.AddMinutes(30));
        var theirs = new PasswordResetTicket(Ids.Digest(Ids.NewSecret()), otherId, now, now.AddMinutes(30));
        await Resets.AddAsync(mine, default);
        await Resets.AddAsync(theirs, default);

        Assert.Equal(1, await Resets.SpendAllAsync(userId, now, default));

        Assert.Null(await Resets.FindUsableAsync(mine.Digest, now, default));
        Assert.False(await Resets.SpendAsync(mine.Digest, now, default));
        Assert.NotNull(await Resets.FindUsableAsync(theirs.Digest, now, default));
        Assert.Equal(0, await Resets.SpendAllAsync(userId, now, default));
    }

    [Fact]
    public async Task Concurrent_first_key_stores_agree_on_one_key()
    {
        var id = "test-" + Guid.NewGuid().ToString("N")[..8];
        var keys = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            SigningKeys.GetOrAddAsync(new StoredSigningKey(id, SigningAlgorithm.ES256, $"pem-{i}", Time.GetUtcNow()), default)));
        Assert.Single(keys.Select(k => k.PrivateKeyPem).Distinct());
    }

    [Fact]
    public async Task Concurrent_rotations_from_two_processes_leave_exactly_one_active_key()
    {
        var now = Time.GetUtcNow();
        var first = await SigningKeys.GetOrAddAsync(new StoredSigningKey("key-0", SigningAlgorithm.ES256, "pem-0", now), default);
        await using var other = BuildServices(storeSettings);
        var stores = new[] { SigningKeys, other.GetRequiredService<ISigningKeyStore>() };

        // Sixteen rotations from the same active key, half from each "process": the conditional write lets one through.
        var outcomes = await Task.WhenAll(Enumerable.Range(1, 16).Select(i =>
            stores[i % 2].RotateAsync(first.Id, new StoredSigningKey($"key-{i}", SigningAlgorithm.ES256, $"pem-{i}", now), now, default)));

        var winner = $"key-{Array.IndexOf(outcomes, true) + 1}";
        Assert.Single(outcomes, won => won);
        var keys = await stores[1].ListAsync(default);
        Assert.Equal(["key-0", winner], keys.Select(k => k.Id).Order(StringComparer.Ordinal));
        var active = Assert.Single(keys, k => k.DeactivatedAt is null);
        Assert.Equal(winner, active.Id);
        Assert.Equal(winner, Core.Signing.SigningKeys.ActiveOf(keys)!.Id);
        Assert.Equal(now, keys.Single(k => k.Id == "key-0").DeactivatedAt);

        // The old key can no longer be rotated from; the new one can.
        Assert.False(await SigningKeys.RotateAsync(first.Id, new StoredSigningKey("key-late", SigningAlgorithm.ES256, "pem", now), now, default));
        Assert.True(await SigningKeys.RotateAsync(winner, new StoredSigningKey("key-next", SigningAlgorithm.ES256, "pem-next", now), now, default));
    }

    [Fact]
    public async Task Only_a_passive_key_is_retired_and_only_once()
    {
        var now = Time.GetUtcNow();
        await SigningKeys.GetOrAddAsync(new StoredSigningKey("old", SigningAlgorithm.RS256, "pem-old", now), default);
        Assert.True(await SigningKeys.RotateAsync("old", new StoredSigningKey("new", SigningAlgorithm.RS256, "pem-new", now), now, default));
        Time.Advance(TimeSpan.FromHours(1));

        Assert.False(await SigningKeys.RetireAsync("new", "public-new", Time.GetUtcNow(), default));
        Assert.False(await SigningKeys.RetireAsync("missing", "public", Time.GetUtcNow(), default));
        var retires = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => SigningKeys.RetireAsync("old", "public-old", Time.GetUtcNow(), default)));
        Assert.Single(retires, done => done);

        var keys = (await SigningKeys.ListAsync(default)).ToDictionary(k => k.Id);
        Assert.Equal(Time.GetUtcNow(), keys["old"].RetiredAt);
        // The private half is gone; the public one is kept so the key can still be listed by kid.
        Assert.Equal("public-old", keys["old"].PrivateKeyPem);
        Assert.Null(keys["new"].RetiredAt);
        Assert.Null(keys["new"].DeactivatedAt);
        Assert.Equal("pem-new", keys["new"].PrivateKeyPem);
    }

    [Fact]
    public async Task Initialize_is_idempotent_and_reports_healthy()
    {
        var store = Services.GetRequiredService<IStoreLifecycle>();
        await store.InitializeAsync(default);
        await store.InitializeAsync(default);
        Assert.True(await store.IsHealthyAsync(default));
    }

    protected ApiToken NewApiToken(string? userId = null, TokenLimits? limits = null)
    {
        var plaintext = ApiTokenFormat.New();
        var now = Time.GetUtcNow();
        return new ApiToken
        {
            Id = Ids.New(Time),
            UserId = userId ?? Ids.New(Time),
            Name = "token " + Guid.NewGuid().ToString("N")[..6],
            Prefix = ApiTokenFormat.DisplayPrefix(plaintext),
            Digest = Ids.Digest(plaintext),
            Scopes = [Permissions.TokensRead, Permissions.UsersRead],
            Limits = limits ?? TokenLimits.None,
            CreatedAt = now,
            ExpiresAt = now.AddDays(30),
        };
    }

    [Fact]
    public async Task Api_token_reads_back_by_id_and_digest_and_lists_per_user()
    {
        var userId = Ids.New(Time);
        var token = NewApiToken(userId, new TokenLimits(2.5, 7, 100, 1000, 12.345678m));
        var other = NewApiToken(userId);
        Assert.Equal(0, await ApiTokens.CreateAsync(token, false, default));
        await ApiTokens.CreateAsync(other, false, default);
        await ApiTokens.CreateAsync(NewApiToken(), false, default);

        var byId = await ApiTokens.FindByIdAsync(token.Id, default);
        var byDigest = await ApiTokens.FindByDigestAsync(token.Digest, default);

        Assert.NotNull(byId);
        Assert.Equal(token.Limits, byId!.Limits);
        Assert.Equal(token.Scopes, byId.Scopes);
        Assert.Equal(token.Digest, byId.Digest);
        Assert.Equal((token.Name, token.Prefix, token.ExpiresAt), (byId.Name, byId.Prefix, byId.ExpiresAt));
        Assert.Equal(token.Id, byDigest?.Id);
        Assert.Null(await ApiTokens.FindByDigestAsync(Ids.Digest("nope"), default));
        var first = await ApiTokens.ListAsync(new ApiTokenQuery(userId, null, 1), default);
        var second = await ApiTokens.ListAsync(new ApiTokenQuery(userId, first.Next, 1), default);
        Assert.Equal(new[] { token.Id, other.Id }.Order(), first.Items.Concat(second.Items).Select(t => t.Id).Order());
        Assert.Null(second.Next);
    }

    [Fact]
    public async Task A_refresh_reads_the_token_as_another_process_left_it()
    {
        // What the credential cache does when an entry expires: as fresh as a find by digest, revocation included.
        var token = NewApiToken(limits: new TokenLimits(3, 9, 50, 500, 1.5m));
        await ApiTokens.CreateAsync(token, false, default);
        var known = (await ApiTokens.FindByDigestAsync(token.Digest, default))!;
        await using var other = BuildServices(storeSettings);
        Assert.True(await other.GetRequiredService<IApiTokenStore>().RevokeAsync(token.Id, Time.GetUtcNow(), default));

        var refreshed = await ApiTokens.RefreshAsync(known, default);
        var found = await ApiTokens.FindByDigestAsync(token.Digest, default);

        Assert.NotNull(refreshed);
        Assert.NotNull(refreshed.RevokedAt);
        Assert.Equal(
            (found!.Id, found.UserId, found.Name, found.Prefix, found.Limits, found.CreatedAt, found.ExpiresAt, found.RevokedAt, found.ParentId),
            (refreshed.Id, refreshed.UserId, refreshed.Name, refreshed.Prefix, refreshed.Limits, refreshed.CreatedAt, refreshed.ExpiresAt, refreshed.RevokedAt, refreshed.ParentId));
        Assert.Equal(found.Scopes, refreshed.Scopes);
        Assert.Equal(found.Digest, refreshed.Digest);
        Assert.Null(await ApiTokens.RefreshAsync(NewApiToken(), default));
    }

    [Fact]
    public async Task Creating_with_revoke_others_revokes_the_owners_active_tokens_only()
    {
        var userId = Ids.New(Time);
        var a = NewApiToken(userId);
        var b = NewApiToken(userId);
        var someoneElse = NewApiToken();
        await ApiTokens.CreateAsync(a, false, default);
        await ApiTokens.CreateAsync(b, false, default);
        await ApiTokens.CreateAsync(someoneElse, false, default);

        var c = NewApiToken(userId);
        Assert.Equal(2, await ApiTokens.CreateAsync(c, true, default));

        Assert.NotNull((await ApiTokens.FindByIdAsync(a.Id, default))!.RevokedAt);
        Assert.NotNull((await ApiTokens.FindByIdAsync(b.Id, default))!.RevokedAt);
        Assert.Null((await ApiTokens.FindByIdAsync(c.Id, default))!.RevokedAt);
        Assert.Null((await ApiTokens.FindByIdAsync(someoneElse.Id, default))!.RevokedAt);
    }

    [Fact]
    public async Task Revoke_happens_once_and_touch_keeps_the_latest_time()
    {
        var token = NewApiToken();
        await ApiTokens.CreateAsync(token, false, default);
        var later = Time.GetUtcNow().AddMinutes(5);

        await ApiTokens.TouchAsync(token.Id, later, default);
        await ApiTokens.TouchAsync(token.Id, later.AddMinutes(-1), default);

        Assert.Equal(later, (await ApiTokens.FindByIdAsync(token.Id, default))!.LastUsedAt);
        Assert.True(await ApiTokens.RevokeAsync(token.Id, later, default));
        Assert.False(await ApiTokens.RevokeAsync(token.Id, later, default));
    }

    [Fact]
    public async Task Concurrent_takes_never_overdraw_a_bucket()
    {
        var key = Ids.New(Time);
        var now = Time.GetUtcNow();

        var takes = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Buckets.TakeAsync(key, 5, 0.001, now, default)));

        Assert.Equal(5, takes.Count(t => t.Admitted));
        var refused = takes.First(t => !t.Admitted);
        Assert.Equal(0, refused.Remaining);
        Assert.True(refused.RetryAfter > TimeSpan.FromSeconds(900), $"retry after {refused.RetryAfter}");
    }

    [Fact]
    public async Task Bucket_refills_with_time_up_to_its_capacity()
    {
        var key = Ids.New(Time);
        var start = Time.GetUtcNow();
        for (var i = 0; i < 3; i++)
        {
            Assert.True((await Buckets.TakeAsync(key, 3, 2, start, default)).Admitted);
        }

        var empty = await Buckets.TakeAsync(key, 3, 2, start, default);
        Assert.False(empty.Admitted);
        Assert.Equal(TimeSpan.FromMilliseconds(500), empty.RetryAfter);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), empty.ResetAfter);

        var half = await Buckets.TakeAsync(key, 3, 2, start.AddMilliseconds(500), default);
        Assert.True(half.Admitted);
        Assert.Equal(0, half.Remaining);

        // A long idle time refills to capacity, not beyond.
        var later = start.AddHours(1);
        var takes = new List<BucketTake>();
        for (var i = 0; i < 4; i++)
        {
            takes.Add(await Buckets.TakeAsync(key, 3, 2, later, default));
        }

        Assert.Equal([true, true, true, false], takes.Select(t => t.Admitted));
        Assert.Equal(2, takes[0].Remaining);
    }

    [Fact]
    public async Task A_clock_that_runs_behind_refills_nothing_and_does_not_move_the_bucket_back()
    {
        var key = Ids.New(Time);
        var start = Time.GetUtcNow();
        Assert.Equal(1, (await Buckets.TakeAsync(key, 2, 1, start, default)).Remaining);

        // Another process whose clock is a minute behind takes the last token: no refill, negative or otherwise.
        var behind = await Buckets.TakeAsync(key, 2, 1, start.AddMinutes(-1), default);
        Assert.True(behind.Admitted);
        Assert.Equal(0, behind.Remaining);

        // Had that take moved the bucket's time back a minute, half a second later would find it full again.
        var soon = await Buckets.TakeAsync(key, 2, 1, start.AddMilliseconds(500), default);
        Assert.False(soon.Admitted);
        Assert.Equal(TimeSpan.FromMilliseconds(500), soon.RetryAfter);
        Assert.True((await Buckets.TakeAsync(key, 2, 1, start.AddSeconds(1), default)).Admitted);
    }

    [Fact]
    public async Task Concurrent_usage_never_overspends_a_daily_quota()
    {
        var tokenId = Ids.New(Time);
        var day = new DateOnly(2026, 11, 23);
        var quota = new Quota(7, 0, 0);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Usage.TryAddAsync(tokenId, day, new UsageDelta(1, 0, 0), quota, default)));

        Assert.Equal(7, outcomes.Count(o => o.Added));
        Assert.All(outcomes.Where(o => !o.Added), o => Assert.Equal(QuotaKind.DailyRequests, o.Exhausted));
        Assert.Equal(7, (await Usage.ListAsync(tokenId, day, day, default)).Single().Requests);
    }

    [Fact]
    public async Task Usage_is_per_utc_day_and_cost_sums_exactly()
    {
        var tokenId = Ids.New(Time);
        var day = new DateOnly(2026, 11, 23);
        var quota = new Quota(0, 100, Money.ToMicros(0.3m));
        for (var i = 0; i < 3; i++)
        {
            Assert.True((await Usage.TryAddAsync(tokenId, day, new UsageDelta(1, 10, Money.ToMicros(0.1m)), quota, default)).Added);
        }

        var refused = await Usage.TryAddAsync(tokenId, day, new UsageDelta(1, 0, 0), quota, default);
        Assert.False(refused.Added);
        Assert.Equal(QuotaKind.DailyCost, refused.Exhausted);
        Assert.Equal(Money.ToMicros(0.3m), refused.Day.CostMicros);

        var tooMany = await Usage.TryAddAsync(tokenId, day.AddDays(1), new UsageDelta(1, 101, 0), quota, default);
        Assert.Equal((false, QuotaKind.DailyTokens), (tooMany.Added, tooMany.Exhausted));
        var nextDay = await Usage.TryAddAsync(tokenId, day.AddDays(1), new UsageDelta(1, 5, 0), quota, default);
        Assert.Equal((true, 1L, 5L), (nextDay.Added, nextDay.Day.Requests, nextDay.Day.Tokens));

        // Usage that already happened is always recorded, even past the caps.
        var recorded = await Usage.AddAsync(tokenId, day, new UsageDelta(0, 500, Money.ToMicros(1.25m)), default);
        Assert.Equal((3L, 530L, Money.ToMicros(1.55m)), (recorded.Requests, recorded.Tokens, recorded.CostMicros));

        var history = await Usage.ListAsync(tokenId, day, day.AddDays(1), default);
        Assert.Equal([day.AddDays(1), day], history.Select(d => d.Day));
    }

    [Fact]
    public async Task Take_and_count_takes_then_counts_and_a_quota_refusal_keeps_the_take()
    {
        var tokenId = Ids.New(Time);
        var now = Time.GetUtcNow();
        var limits = new EffectiveLimits(0.001, 3, new Quota(2, 0, 0));

        var uses = new List<MeteredUse>();
        for (var i = 0; i < 4; i++)
        {
            uses.Add(await Metering.TakeAndCountAsync(tokenId, limits, new UsageDelta(1, 10, 0), now, default));
        }

        Assert.Equal([true, true, true, false], uses.Select(u => u.Bucket.Admitted));
        Assert.Equal([true, true, false], uses.Take(3).Select(u => u.Usage!.Added));
        Assert.Equal((2L, QuotaKind.DailyRequests), (uses[2].Usage!.Day.Requests, uses[2].Usage!.Exhausted));
        Assert.Equal(0, uses[2].Bucket.Remaining);
        Assert.Null(uses[3].Usage);
        var day = UsageDay.DayOf(now);
        Assert.Equal((2L, 20L), (await Usage.ListAsync(tokenId, day, day, default)).Select(d => (d.Requests, d.Tokens)).Single());
    }

    [Fact]
    public async Task Take_and_count_from_two_processes_admits_exactly_the_burst_and_counts_each_admitted_use()
    {
        await using var other = BuildServices(storeSettings);
        var stores = new[] { Metering, other.GetRequiredService<IMeteringStore>() };
        var tokenId = Ids.New(Time);
        var now = Time.GetUtcNow();
        var limits = new EffectiveLimits(0.001, 10, new Quota(0, 0, 0));

        var uses = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
            stores[i % 2].TakeAndCountAsync(tokenId, limits, new UsageDelta(1, 5, 0), now, default)));

        Assert.Equal(10, uses.Count(u => u.Bucket.Admitted));
        Assert.All(uses.Where(u => u.Bucket.Admitted), u => Assert.True(u.Usage!.Added));
        var day = UsageDay.DayOf(now);
        Assert.Equal((10L, 50L), (await Usage.ListAsync(tokenId, day, day, default)).Select(d => (d.Requests, d.Tokens)).Single());
    }

    [Fact]
    public async Task Two_uses_metered_together_spend_nothing_of_the_second_token_once_the_first_is_refused()
    {
        var (gateway, user) = (Ids.New(Time), Ids.New(Time));
        var now = Time.GetUtcNow();
        var caller = new MeteringRequest(gateway, new EffectiveLimits(0.001, 2, new Quota(0, 0, 0)), new UsageDelta(1, 0, 0), now);
        var verified = new MeteringRequest(user, new EffectiveLimits(1000, 100, new Quota(0, 0, 0)), new UsageDelta(1, 7, 0), now);

        var pairs = new List<(MeteredUse First, MeteredUse? Then)>();
        for (var i = 0; i < 3; i++)
        {
            pairs.Add(await Metering.TakeAndCountBothAsync(caller, verified, default));
        }

        Assert.Equal([true, true, false], pairs.Select(p => p.First.Admitted));
        Assert.Equal([true, true], pairs.Take(2).Select(p => p.Then!.Admitted));
        Assert.Null(pairs[2].Then);
        var day = UsageDay.DayOf(now);
        Assert.Equal((2L, 14L), (await Usage.ListAsync(user, day, day, default)).Select(d => (d.Requests, d.Tokens)).Single());
        Assert.Equal(97, (await Buckets.TakeAsync(user, 100, 1000, now, default)).Remaining);
    }

    [Fact]
    public async Task Pairs_from_two_processes_admit_exactly_the_callers_burst_and_count_the_other_token_once_each()
    {
        await using var other = BuildServices(storeSettings);
        var stores = new[] { Metering, other.GetRequiredService<IMeteringStore>() };
        var (gateway, user) = (Ids.New(Time), Ids.New(Time));
        var now = Time.GetUtcNow();
        var caller = new MeteringRequest(gateway, new EffectiveLimits(0.001, 10, new Quota(0, 0, 0)), new UsageDelta(1, 0, 0), now);
        var verified = new MeteringRequest(user, new EffectiveLimits(0.001, 1000, new Quota(0, 0, 0)), new UsageDelta(1, 3, 0), now);

        var pairs = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => stores[i % 2].TakeAndCountBothAsync(caller, verified, default)));

        Assert.Equal(10, pairs.Count(p => p.First.Admitted));
        Assert.All(pairs, p => Assert.Equal(p.First.Admitted, p.Then is { Admitted: true }));
        var day = UsageDay.DayOf(now);
        Assert.Equal((10L, 30L), (await Usage.ListAsync(user, day, day, default)).Select(d => (d.Requests, d.Tokens)).Single());
    }

    [Fact]
    public async Task Usage_recorded_and_buckets_taken_outside_metering_count_for_the_next_metered_use()
    {
        // A store that remembers what it metered (SQLite's writer does) must still see every other write of its own
        // process: usage recorded after the fact, and takes from the same bucket by the plain bucket store.
        var tokenId = Ids.New(Time);
        var now = Time.GetUtcNow();
        var day = UsageDay.DayOf(now);
        var limits = new EffectiveLimits(0.001, 3, new Quota(3, 0, 0));
        Assert.True((await Metering.TakeAndCountAsync(tokenId, limits, new UsageDelta(1, 0, 0), now, default)).Admitted);

        await Usage.AddAsync(tokenId, day, new UsageDelta(2, 0, 0), default);
        var overQuota = await Metering.TakeAndCountAsync(tokenId, limits, new UsageDelta(1, 0, 0), now, default);
        Assert.Equal((true, false, QuotaKind.DailyRequests), (overQuota.Bucket.Admitted, overQuota.Usage!.Added, overQuota.Usage.Exhausted));

        // The two metered uses took two of the three bucket tokens; the plain store takes the last.
        Assert.True((await Buckets.TakeAsync(tokenId, 3, 0.001, now, default)).Admitted);
        Assert.False((await Metering.TakeAndCountAsync(tokenId, limits, new UsageDelta(1, 0, 0), now, default)).Bucket.Admitted);
    }

    [Fact]
    public async Task A_new_utc_day_starts_the_counters_at_zero_and_keeps_the_finished_day_as_history()
    {
        var tokenId = Ids.New(Time);
        var limits = new EffectiveLimits(1000, 1000, new Quota(2, 0, 0));
        var first = UsageDay.DayOf(Time.GetUtcNow());
        await Metering.TakeAndCountAsync(tokenId, limits, new UsageDelta(1, 0, 0), Time.GetUtcNow(), default);
        await Metering.TakeAndCountAsync(tokenId, limits, new UsageDelta(1, 0, 0), Time.GetUtcNow(), default);
        Assert.False((await Metering.TakeAndCountAsync(tokenId, limits, new UsageDelta(1, 0, 0), Time.GetUtcNow(), default)).Usage!.Added);

        Time.Advance(TimeSpan.FromDays(1));
        var next = await Metering.TakeAndCountAsync(tokenId, limits, new UsageDelta(1, 0, 0), Time.GetUtcNow(), default);

        Assert.Equal((true, 1L), (next.Usage!.Added, next.Usage.Day.Requests));
        var history = await Usage.ListAsync(tokenId, first, first.AddDays(1), default);
        Assert.Equal([(first.AddDays(1), 1L), (first, 2L)], history.Select(d => (d.Day, d.Requests)));
    }

    [Fact]
    public async Task A_use_with_unusable_limits_fails_alone_and_never_another_callers_use()
    {
        // Limits the API no longer accepts (or a stored token from before the bounds): they must not reach past
        // their own use. On SQLite the uses of many tokens share one write transaction; on Table Storage the uses
        // of one token share one write; either way, one use's arithmetic may not fail another's.
        var hostile = new[]
        {
            new EffectiveLimits(1e-300, 5, new Quota(0, 0, 0)),
            new EffectiveLimits(double.Epsilon, 1_000_000, new Quota(0, 0, 0)),
            new EffectiveLimits(double.NaN, 5, new Quota(0, 0, 0)),
            new EffectiveLimits(double.PositiveInfinity, 5, new Quota(0, 0, 0)),
            new EffectiveLimits(1, -1, new Quota(0, 0, 0)),
            new EffectiveLimits(-5, int.MaxValue, new Quota(-1, -1, -1)),
        };
        var ordinary = new EffectiveLimits(1000, 1000, new Quota(0, 0, 0));
        var hostileToken = Ids.New(Time);
        var ordinaryTokens = Enumerable.Range(0, 8).Select(_ => Ids.New(Time)).ToArray();
        var now = Time.GetUtcNow();

        for (var round = 0; round < 5; round++)
        {
            var uses = new List<Task<MeteredUse>>();
            var hostileUses = new List<Task<MeteredUse>>();
            var sameToken = new List<Task<MeteredUse>>();
            for (var i = 0; i < 60; i++)
            {
                var (bad, good) = (hostile[i % hostile.Length], ordinaryTokens[i % ordinaryTokens.Length]);
                hostileUses.Add(Task.Run(() => Metering.TakeAndCountAsync(hostileToken, bad, new UsageDelta(1, long.MaxValue, long.MaxValue), now, default)));
                uses.Add(Task.Run(() => Metering.TakeAndCountAsync(good, ordinary, new UsageDelta(1, 1, 1), now, default)));
                // Ordinary usage of the hostile token too: on Table Storage it shares a write with the hostile uses. Its
                // bucket is the hostile one's, so it may be refused, but it must be answered.
                sameToken.Add(Task.Run(() => Metering.TakeAndCountAsync(hostileToken, ordinary, new UsageDelta(1, 1, 1), now, default)));
            }

            var answered = await Task.WhenAll(uses);
            Assert.All(answered, use => Assert.True(use.Usage!.Added));
            Assert.All(await Task.WhenAll(sameToken), use => Assert.True(use.Usage is null || use.Usage.Day.Tokens >= 0));
            await Task.WhenAll(hostileUses.Select(async use =>
            {
                // A hostile use may be refused or even fail; what it may not do is hang or wrap a counter.
                try
                {
                    var outcome = await use;
                    Assert.True(outcome.Usage is null || outcome.Usage.Day.Tokens >= 0);
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException or OverflowException)
                {
                }
            }));
        }

        var day = UsageDay.DayOf(now);
        var counted = 0L;
        foreach (var token in ordinaryTokens)
        {
            counted += (await Usage.ListAsync(token, day, day, default)).Single().Requests;
        }

        Assert.Equal(300, counted);
    }

    [Fact]
    public async Task Counters_never_wrap_they_refuse_when_capped_or_uncapped_and_saturate_after_the_fact()
    {
        var tokenId = Ids.New(Time);
        var day = new DateOnly(2026, 11, 23);
        var noCap = new Quota(0, 0, 0);
        Assert.True((await Usage.TryAddAsync(tokenId, day, new UsageDelta(1, 1, 1), noCap, default)).Added);

        // One more than a counter can hold: refused (nothing added), not wrapped to a negative count.
        var refused = await Usage.TryAddAsync(tokenId, day, new UsageDelta(1, long.MaxValue, 0), noCap, default);
        Assert.Equal((false, QuotaKind.DailyTokens, 1L), (refused.Added, refused.Exhausted, refused.Day.Tokens));
        var capped = await Usage.TryAddAsync(tokenId, day, new UsageDelta(1, long.MaxValue, 0), new Quota(0, 1000, 0), default);
        Assert.Equal((false, QuotaKind.DailyTokens, 1L), (capped.Added, capped.Exhausted, capped.Day.Tokens));

        // Usage that already happened is recorded, pinned at the largest count rather than wrapped.
        await Usage.AddAsync(tokenId, day, new UsageDelta(long.MaxValue, long.MaxValue, long.MaxValue), default);
        var pinned = await Usage.AddAsync(tokenId, day, new UsageDelta(long.MaxValue, 5, 5), default);
        Assert.Equal((long.MaxValue, long.MaxValue, long.MaxValue), (pinned.Requests, pinned.Tokens, pinned.CostMicros));
        Assert.Equal((long.MaxValue, long.MaxValue), (await Usage.ListAsync(tokenId, day, day, default)).Select(d => (d.Requests, d.Tokens)).Single());
        Assert.False((await Usage.TryAddAsync(tokenId, day, new UsageDelta(1, 0, 0), noCap, default)).Added);

        // Through the metering call too (a verify), on a token whose counter is nearly full.
        var metered = Ids.New(Time);
        var limits = new EffectiveLimits(1000, 1000, noCap);
        var now = Time.GetUtcNow();
        Assert.True((await Metering.TakeAndCountAsync(metered, limits, new UsageDelta(1, long.MaxValue - 1, 0), now, default)).Usage!.Added);
        var over = await Metering.TakeAndCountAsync(metered, limits, new UsageDelta(1, 2, 0), now, default);
        Assert.Equal((false, long.MaxValue - 1), (over.Usage!.Added, over.Usage.Day.Tokens));
    }

    [Fact]
    public async Task Revoke_all_of_a_user_revokes_every_token_and_what_they_made_and_spares_others()
    {
        var userId = Ids.New(Time);
        var mine = new[] { NewApiToken(userId), NewApiToken(userId), NewApiToken(userId) };
        foreach (var token in mine)
        {
            await ApiTokens.CreateAsync(token, false, default);
        }

        await ApiTokens.RevokeAsync(mine[2].Id, Time.GetUtcNow(), default);
        // A token one of them made for another user goes too; that user's own token stays.
        var made = NewApiToken() with { ParentId = mine[0].Id };
        var someoneElse = NewApiToken(made.UserId);
        await ApiTokens.CreateAsync(made, false, default);
        await ApiTokens.CreateAsync(someoneElse, false, default);

        var now = Time.GetUtcNow().AddMinutes(1);
        Assert.Equal(3, await ApiTokens.RevokeAllOfUserAsync(userId, now, default));

        foreach (var token in mine.Take(2).Append(made))
        {
            Assert.Equal(now, (await ApiTokens.FindByIdAsync(token.Id, default))!.RevokedAt);
        }

        Assert.Null((await ApiTokens.FindByIdAsync(someoneElse.Id, default))!.RevokedAt);
        Assert.Equal(0, await ApiTokens.RevokeAllOfUserAsync(userId, now, default));
        Assert.Equal(0, await ApiTokens.RevokeAllOfUserAsync(Ids.New(Time), now, default));
    }

    [Fact]
    public async Task Revoking_a_token_revokes_its_descendants_and_a_child_of_a_revoked_parent_is_refused()
    {
        var parent = NewApiToken();
        var child = NewApiToken(parent.UserId) with { ParentId = parent.Id };
        var grandchild = NewApiToken() with { ParentId = child.Id };
        var sibling = NewApiToken(parent.UserId);
        foreach (var token in new[] { parent, child, grandchild, sibling })
        {
            await ApiTokens.CreateAsync(token, false, default);
        }

        Assert.Equal(parent.Id, (await ApiTokens.FindByIdAsync(child.Id, default))!.ParentId);
        Assert.True(await ApiTokens.RevokeAsync(parent.Id, Time.GetUtcNow(), default));

        Assert.NotNull((await ApiTokens.FindByIdAsync(child.Id, default))!.RevokedAt);
        Assert.NotNull((await ApiTokens.FindByDigestAsync(grandchild.Digest, default))!.RevokedAt);
        Assert.Null((await ApiTokens.FindByIdAsync(sibling.Id, default))!.RevokedAt);
        var late = NewApiToken(parent.UserId) with { ParentId = parent.Id };
        Assert.Equal(ApiTokenRefusal.ParentInactive, (await ApiTokens.CreateAsync(late, false, 0, default)).Refusal);
        Assert.Null(await ApiTokens.FindByDigestAsync(late.Digest, default));
        var expiredParent = NewApiToken() with { ExpiresAt = Time.GetUtcNow() };
        await ApiTokens.CreateAsync(expiredParent, false, default);
        Assert.Equal(ApiTokenRefusal.ParentInactive, (await ApiTokens.CreateAsync(NewApiToken() with { ParentId = expiredParent.Id }, false, 0, default)).Refusal);
    }

    [Fact]
    public async Task A_create_whose_revoke_others_takes_its_own_parent_is_refused_and_no_child_is_left_alive()
    {
        // B's token made one for C, which makes one for B with one-active-per-user on: revoking B's other tokens takes
        // the chain, the new token's parent included.
        var ofB = NewApiToken();
        var ofC = NewApiToken() with { ParentId = ofB.Id };
        await ApiTokens.CreateAsync(ofB, false, default);
        await ApiTokens.CreateAsync(ofC, false, default);
        var forB = NewApiToken(ofB.UserId) with { ParentId = ofC.Id };

        var created = await ApiTokens.CreateAsync(forB, true, 0, default);

        Assert.Equal(ApiTokenRefusal.ParentInactive, created.Refusal);
        Assert.True(await ApiTokens.FindByDigestAsync(forB.Digest, default) is null or { RevokedAt: not null });
    }

    [Fact]
    public async Task Concurrent_creates_from_two_processes_never_take_a_user_past_the_active_cap()
    {
        await using var other = BuildServices(storeSettings);
        var stores = new[] { ApiTokens, other.GetRequiredService<IApiTokenStore>() };
        var userId = Ids.New(Time);
        var now = Time.GetUtcNow();
        await ApiTokens.CreateAsync(NewApiToken(userId) with { ExpiresAt = now }, false, default);
        var revoked = NewApiToken(userId);
        await ApiTokens.CreateAsync(revoked, false, default);
        await ApiTokens.RevokeAsync(revoked.Id, now, default);

        // Expired and revoked tokens leave room; 12 concurrent creates fill the cap of 3 exactly.
        var created = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => stores[i % 2].CreateAsync(NewApiToken(userId), false, 3, default)));

        Assert.Equal(3, created.Count(c => c.Created));
        Assert.All(created.Where(c => !c.Created), c => Assert.Equal(ApiTokenRefusal.TooManyActive, c.Refusal));
        var listed = (await ApiTokens.ListAsync(new ApiTokenQuery(userId, null, 100), default)).Items;
        Assert.Equal(3, listed.Count(t => t.RevokedAt is null && t.ExpiresAt > now));
    }

    [Fact]
    public async Task Concurrent_creates_with_revoke_others_from_two_processes_leave_one_active_token()
    {
        await using var other = BuildServices(storeSettings);
        var stores = new[] { ApiTokens, other.GetRequiredService<IApiTokenStore>() };
        var userId = Ids.New(Time);
        var tokens = Enumerable.Range(0, 8).Select(_ => NewApiToken(userId)).ToList();

        var revoked = await Task.WhenAll(tokens.Select((token, i) => stores[i % 2].CreateAsync(token, true, default)));

        var listed = (await ApiTokens.ListAsync(new ApiTokenQuery(userId, null, 100), default)).Items;
        Assert.Equal(8, listed.Count);
        Assert.Single(listed, t => t.RevokedAt is null);
        Assert.Equal(7, revoked.Sum());
    }

    [Fact]
    public async Task Touching_an_unknown_token_creates_nothing()
    {
        var id = Ids.New(Time);
        await ApiTokens.TouchAsync(id, Time.GetUtcNow(), default);
        Assert.Null(await ApiTokens.FindByIdAsync(id, default));
        Assert.False(await ApiTokens.RevokeAsync(id, Time.GetUtcNow(), default));
    }

    protected MaintenanceJob Maintenance => services.GetRequiredService<MaintenanceJob>();

    [Fact]
    public async Task Maintenance_purges_what_expired_keeps_what_lives_and_is_idempotent()
    {
        var now = Time.GetUtcNow();
        var (expiredSession, _) = await NewSessionAsync();
        var (revokedSession, _) = await NewSessionAsync();
        await Sessions.RevokeAsync(revokedSession.Id, "logout", now, default);
        var (liveSession, liveRefresh) = await NewSessionAsync();
        var liveRotated = NextToken(liveSession.Id, out _);
        await Sessions.RotateAsync(liveSession.Id, Ids.Digest(liveRefresh), liveRotated with { ExpiresAt = now.AddDays(60) }, now, default);

        var oldRevoked = NewApiToken();
        var recentRevoked = NewApiToken();
        var live = NewApiToken();
        await ApiTokens.CreateAsync(oldRevoked, false, default);
        await ApiTokens.CreateAsync(recentRevoked, false, default);
        await ApiTokens.CreateAsync(live with { ExpiresAt = now.AddDays(90) }, false, default);
        await ApiTokens.RevokeAsync(oldRevoked.Id, now, default);

        var usedReset = new PasswordResetTicket(Ids.Digest(Ids.NewSecret()), Ids.New(Time), now, now.AddMinutes(30));
        await Resets.AddAsync(usedReset, default);
        await Resets.SpendAsync(usedReset.Digest, now, default);

        var fullSoon = Ids.New(Time);
        var drained = Ids.New(Time);
        await Buckets.TakeAsync(fullSoon, 10, 1, now, default);
        for (var i = 0; i < 10; i++)
        {
            await Buckets.TakeAsync(drained, 10, 0.000001, now, default);
        }

        var tokenId = Ids.New(Time);
        var today = UsageDay.DayOf(now);
        await Usage.AddAsync(tokenId, today.AddDays(-100), new UsageDelta(1, 0, 0), default);
        await Usage.AddAsync(tokenId, today, new UsageDelta(1, 0, 0), default);

        // 2 days on: the first session (1-day expiry) has expired; the revoked API token is 2 days past
        // revocation but within its 30-day retention, so only the older one goes after 31 days.
        Time.Advance(TimeSpan.FromDays(2));
        var first = await Maintenance.RunAsync(default);
        await ApiTokens.RevokeAsync(recentRevoked.Id, Time.GetUtcNow(), default);

        Assert.True(first.Ran);
        Assert.True(first.Sessions >= 2);
        Assert.Null(await Sessions.FindAsync(expiredSession.Id, default));
        Assert.Null(await Sessions.FindAsync(revokedSession.Id, default));
        Assert.NotNull(await Sessions.FindAsync(liveSession.Id, default));
        Assert.True(first.PasswordResets >= 1);
        Assert.True(first.RateBuckets >= 1);
        Assert.True(first.UsageDays >= 1);
        Assert.Single(await Usage.ListAsync(tokenId, today.AddDays(-200), today, default));
        Assert.NotNull(await ApiTokens.FindByIdAsync(oldRevoked.Id, default));

        // The drained bucket is not full yet, so it is kept: deleting it would hand out a fresh burst.
        Assert.False((await Buckets.TakeAsync(drained, 10, 0.000001, Time.GetUtcNow(), default)).Admitted);

        Time.Advance(TimeSpan.FromDays(29));
        var second = await Maintenance.RunAsync(default);
        Assert.True(second.ApiTokens >= 1);
        Assert.Null(await ApiTokens.FindByIdAsync(oldRevoked.Id, default));
        Assert.NotNull(await ApiTokens.FindByIdAsync(recentRevoked.Id, default));
        Assert.NotNull(await ApiTokens.FindByIdAsync(live.Id, default));

        var third = await Maintenance.RunAsync(default);
        Assert.Equal(0, third.Total);
        Assert.True(third.Complete);
    }

    [Fact]
    public async Task Maintenance_works_off_a_backlog_in_batches()
    {
        var now = Time.GetUtcNow();
        for (var i = 0; i < 25; i++)
        {
            var ticket = new PasswordResetTicket(Ids.Digest(Ids.NewSecret()), Ids.New(Time), now, now.AddMinutes(1));
            await Resets.AddAsync(ticket, default);
        }

        Time.Advance(TimeSpan.FromMinutes(2));
        await using var small = BuildServices(StoreSettingsWith(("IronAuth:Maintenance:BatchSize", "4")));
        var report = await small.GetRequiredService<MaintenanceJob>().RunAsync(default);

        Assert.True(report.PasswordResets >= 25);
        Assert.Equal(0, (await small.GetRequiredService<MaintenanceJob>().RunAsync(default)).PasswordResets);
    }

    [Fact]
    public async Task Concurrent_maintenance_runs_do_the_work_once()
    {
        var now = Time.GetUtcNow();
        for (var i = 0; i < 20; i++)
        {
            // Distinct users, so adding one ticket does not spend another.
            await Resets.AddAsync(new PasswordResetTicket(Ids.Digest(Ids.NewSecret()), Ids.New(Time), now, now.AddMinutes(1)), default);
        }

        Time.Advance(TimeSpan.FromMinutes(2));
        await using var otherProcess = BuildServices(StoreSettingsWith());
        var runs = await Task.WhenAll(
            Maintenance.RunAsync(default),
            otherProcess.GetRequiredService<MaintenanceJob>().RunAsync(default),
            Maintenance.RunAsync(default));

        // Whoever holds the lease works and the others skip; either way each item is purged once.
        Assert.Contains(runs, r => r.Ran);
        Assert.Equal(20, runs.Sum(r => r.PasswordResets));
        Assert.Equal(0, (await Maintenance.RunAsync(default)).PasswordResets);
    }

    [Fact]
    public async Task A_lease_is_exclusive_until_it_lapses()
    {
        var leases = Services.GetRequiredService<ILeaseStore>();
        var now = Time.GetUtcNow();
        Assert.True(await leases.TryAcquireAsync("test-lease", "a", now.AddMinutes(5), now, default));
        Assert.False(await leases.TryAcquireAsync("test-lease", "b", now.AddMinutes(5), now, default));
        Assert.True(await leases.TryAcquireAsync("test-lease", "a", now.AddMinutes(6), now, default));
        Assert.True(await leases.TryAcquireAsync("test-lease", "b", now.AddMinutes(20), now.AddMinutes(6), default));
    }

    [Fact]
    public async Task Concurrent_lease_takes_have_one_winner()
    {
        var now = Time.GetUtcNow();
        var leases = Services.GetRequiredService<ILeaseStore>();
        var name = "race-" + Guid.NewGuid().ToString("N")[..8];
        var wins = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => leases.TryAcquireAsync(name, $"holder-{i}", now.AddMinutes(5), now, default)));
        Assert.Single(wins, w => w);
    }

    private Dictionary<string, string?> StoreSettingsWith(params (string Key, string Value)[] extra)
    {
        var settings = new Dictionary<string, string?>(storeSettings);
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        return settings;
    }

    private async Task<(Session Session, string Token)> NewSessionAsync(string? userId = null)
    {
        var now = Time.GetUtcNow();
        var session = new Session { Id = Ids.New(Time), UserId = userId ?? Ids.New(Time), CreatedAt = now, ExpiresAt = now.AddDays(1) };
        var token = RefreshTokens.New(session.Id);
        await Sessions.CreateAsync(session, new RefreshTokenRecord(Ids.Digest(token), session.Id, now, session.ExpiresAt), default);
        return (session, token);
    }

    private RefreshTokenRecord NextToken(string sessionId, out string token)
    {
        var now = Time.GetUtcNow();
        token = RefreshTokens.New(sessionId);
        return new RefreshTokenRecord(Ids.Digest(token), sessionId, now, now.AddDays(2));
    }
}
