using IronAuth.Core;
using IronAuth.Core.Passwords;
using IronAuth.Core.Sessions;
using IronAuth.Core.Users;
using IronAuth.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace IronAuth.Tests.Storage;

/// <summary>The storage contract against Table Storage (Azurite), plus races run from two "processes" at once.</summary>
public sealed class TableStoreTests : StoreContractTests
{
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
}
