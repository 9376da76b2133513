using IronAuth.Core;
using IronAuth.Core.Audit;
using IronAuth.Core.Configuration;
using IronAuth.Core.Passwords;
using IronAuth.Core.Sessions;
using IronAuth.Core.Signing;
using IronAuth.Core.Storage;
using IronAuth.Core.Users;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace IronAuth.Tests.Storage;

/// <summary>
/// The storage contract: every store implementation inherits this class unchanged. Anything one store
/// passes and another does not is a bug in that store.
/// </summary>
public abstract class StoreContractTests : IAsyncLifetime
{
    private ServiceProvider services = null!;

    protected FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero));

    protected IServiceProvider Services => services;

    protected IUserStore Users => services.GetRequiredService<IUserStore>();

    protected ISessionStore Sessions => services.GetRequiredService<ISessionStore>();

    protected IAuditStore Audit => services.GetRequiredService<IAuditStore>();

    protected IPasswordResetStore Resets => services.GetRequiredService<IPasswordResetStore>();

    protected ISigningKeyStore SigningKeys => services.GetRequiredService<ISigningKeyStore>();

    /// <summary>Settings (IronAuth:…) that point the store at a fresh, empty place for this test class.</summary>
    protected abstract Task<IDictionary<string, string?>> CreateStoreSettingsAsync();

    protected virtual Task DisposeStoreAsync() => Task.CompletedTask;

    public async Task InitializeAsync()
    {
        services = BuildServices(await CreateStoreSettingsAsync());
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
    public async Task Concurrent_first_key_stores_agree_on_one_key()
    {
        var id = "test-" + Guid.NewGuid().ToString("N")[..8];
        var keys = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            SigningKeys.GetOrAddAsync(new StoredSigningKey(id, SigningAlgorithm.ES256, $"pem-{i}", Time.GetUtcNow()), default)));
        Assert.Single(keys.Select(k => k.PrivateKeyPem).Distinct());
    }

    [Fact]
    public async Task Initialize_is_idempotent_and_reports_healthy()
    {
        var store = Services.GetRequiredService<IStoreLifecycle>();
        await store.InitializeAsync(default);
        await store.InitializeAsync(default);
        Assert.True(await store.IsHealthyAsync(default));
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
