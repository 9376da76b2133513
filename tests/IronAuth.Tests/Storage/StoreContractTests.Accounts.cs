using IronAuth.Core;
using IronAuth.Core.Accounts;
using IronAuth.Core.Federation;
using IronAuth.Core.Mfa;
using IronAuth.Core.Users;
using Microsoft.Extensions.DependencyInjection;

namespace IronAuth.Tests.Storage;

/// <summary>The storage contract of people's accounts (issue 16): unique emails, emailed codes, two-factor state, federated links.</summary>
public abstract partial class StoreContractTests
{
    protected IEmailCodeStore EmailCodes => services.GetRequiredService<IEmailCodeStore>();

    protected IMfaStore Mfa => services.GetRequiredService<IMfaStore>();

    protected IFederatedIdentityStore Identities => services.GetRequiredService<IFederatedIdentityStore>();

    private static string NewEmail() => $"Someone.{Guid.NewGuid():N}@Example.com";

    private static byte[] Digest(string text) => System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text));

    [Fact]
    public async Task Emails_are_unique_case_insensitively_found_by_email_and_freed_when_changed()
    {
        var email = NewEmail();
        var first = NewUser() with { Email = email };
        Assert.True(await Users.CreateAsync(first, default));
        Assert.False(await Users.CreateAsync(NewUser() with { Email = email.ToUpperInvariant() }, default));
        var second = NewUser() with { Email = NewEmail() };
        Assert.True(await Users.CreateAsync(second, default));

        Assert.Equal(first.Id, (await Users.FindByEmailAsync(EmailAddresses.Normalize(email)!, default))?.Id);
        var stored = (await Users.FindByIdAsync(second.Id, default))!;
        Assert.Equal(WriteOutcome.EmailTaken, await Users.UpdateAsync(stored with { Email = email.ToLowerInvariant() }, false, default));

        var moved = NewEmail();
        var firstStored = (await Users.FindByIdAsync(first.Id, default))!;
        Assert.Equal(WriteOutcome.Written, await Users.UpdateAsync(firstStored with { Email = moved }, false, default));
        Assert.Null(await Users.FindByEmailAsync(EmailAddresses.Normalize(email)!, default));
        Assert.Equal(first.Id, (await Users.FindByEmailAsync(EmailAddresses.Normalize(moved)!, default))?.Id);
        stored = (await Users.FindByIdAsync(second.Id, default))!;
        Assert.Equal(WriteOutcome.Written, await Users.UpdateAsync(stored with { Email = email }, false, default));
        Assert.Equal(second.Id, (await Users.FindByEmailAsync(EmailAddresses.Normalize(email)!, default))?.Id);
        // Other writes (lockout counters) leave the email and its index alone.
        stored = (await Users.FindByIdAsync(second.Id, default))!;
        Assert.Equal(WriteOutcome.Written, await Users.UpdateAsync(stored with { FailedLogins = 2, EmailVerifiedAt = Time.GetUtcNow() }, false, default));
        var reread = await Users.FindByEmailAsync(EmailAddresses.Normalize(email)!, default);
        Assert.Equal(2, reread?.FailedLogins);
        Assert.Equal(Time.GetUtcNow(), reread?.EmailVerifiedAt);
    }

    [Fact]
    public async Task Concurrent_creates_with_one_email_in_two_processes_create_one_user()
    {
        await using var other = BuildServices(storeSettings);
        var stores = new[] { Users, other.GetRequiredService<IUserStore>() };
        var email = NewEmail();

        var created = await Task.WhenAll(Enumerable.Range(0, 12).Select(i =>
            stores[i % 2].CreateAsync(NewUser() with { Email = i % 3 == 0 ? email : email.ToLowerInvariant() }, default)));

        Assert.Single(created, c => c);
    }

    [Fact]
    public async Task An_email_code_is_redeemed_once_across_processes_and_dies_after_the_try_limit()
    {
        var email = EmailAddresses.Normalize(NewEmail())!;
        var now = Time.GetUtcNow();
        await EmailCodes.PutAsync(new EmailCode(email, "user-1", Digest("right"), now, now.AddMinutes(10)), default);
        await using var other = BuildServices(storeSettings);
        var stores = new[] { EmailCodes, other.GetRequiredService<IEmailCodeStore>() };

        var checks = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => stores[i % 2].CheckAsync(email, Digest("right"), 5, now, default)));

        var redeemed = Assert.Single(checks, c => c.Check == CodeCheck.Redeemed);
        Assert.Equal("user-1", redeemed.UserId);
        Assert.All(checks.Where(c => c.Check != CodeCheck.Redeemed), c => Assert.Equal(CodeCheck.Unusable, c.Check));

        // A new code: wrong tries are counted, and the limit kills it even for the right one.
        await EmailCodes.PutAsync(new EmailCode(email, "user-1", Digest("second"), now, now.AddMinutes(10)), default);
        var wrongs = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => stores[i % 2].CheckAsync(email, Digest("wrong"), 5, now, default)));
        Assert.Equal(5, wrongs.Count(w => w.Check == CodeCheck.Wrong));
        Assert.Equal(3, wrongs.Count(w => w.Check == CodeCheck.Unusable));
        Assert.Equal(CodeCheck.Unusable, (await EmailCodes.CheckAsync(email, Digest("second"), 5, now, default)).Check);

        // Expired.
        await EmailCodes.PutAsync(new EmailCode(email, "user-1", Digest("third"), now, now.AddMinutes(10)), default);
        Assert.Equal(CodeCheck.Unusable, (await EmailCodes.CheckAsync(email, Digest("third"), 5, now.AddMinutes(10), default)).Check);
        Assert.Equal(CodeCheck.Unusable, (await EmailCodes.CheckAsync(EmailAddresses.Normalize(NewEmail())!, Digest("third"), 5, now, default)).Check);
    }

    [Fact]
    public async Task Maintenance_purges_spent_and_expired_email_codes_and_mfa_challenges_and_keeps_live_ones()
    {
        var now = Time.GetUtcNow();
        var userId = Ids.New(Time);
        var expired = EmailAddresses.Normalize(NewEmail())!;
        var spent = EmailAddresses.Normalize(NewEmail())!;
        var replaced = EmailAddresses.Normalize(NewEmail())!;
        await EmailCodes.PutAsync(new EmailCode(expired, userId, Digest("expired"), now, now.AddMinutes(10)), default);
        await EmailCodes.PutAsync(new EmailCode(spent, userId, Digest("spent"), now, now.AddMinutes(10)), default);
        Assert.Equal(CodeCheck.Redeemed, (await EmailCodes.CheckAsync(spent, Digest("spent"), 5, now, default)).Check);
        // Replaced by a code that lives a day: the first code's purge entry comes due, the new code must survive it.
        await EmailCodes.PutAsync(new EmailCode(replaced, userId, Digest("old"), now, now.AddMinutes(10)), default);
        await EmailCodes.PutAsync(new EmailCode(replaced, userId, Digest("new"), now, now.AddDays(1)), default);

        var expiredChallenge = Digest("expired challenge " + userId);
        var spentChallenge = Digest("spent challenge " + userId);
        var liveChallenge = Digest("live challenge " + userId);
        await Mfa.AddChallengeAsync(new MfaChallenge(expiredChallenge, userId, now.AddMinutes(5)), default);
        await Mfa.AddChallengeAsync(new MfaChallenge(spentChallenge, userId, now.AddMinutes(5)), default);
        Assert.Equal(userId, await Mfa.SpendChallengeAsync(spentChallenge, now, default));
        await Mfa.AddChallengeAsync(new MfaChallenge(liveChallenge, userId, now.AddHours(3)), default);

        // Past the short expiries (the Table store purges a spent record from its expiry hour on, SQLite at once).
        Time.Advance(TimeSpan.FromHours(1) + TimeSpan.FromMinutes(1));
        var first = await Maintenance.RunAsync(default);

        Assert.True(first.EmailCodes >= 2, $"email codes purged: {first.EmailCodes}");
        Assert.True(first.MfaChallenges >= 2, $"challenges purged: {first.MfaChallenges}");
        var later = Time.GetUtcNow();
        Assert.Equal(CodeCheck.Redeemed, (await EmailCodes.CheckAsync(replaced, Digest("new"), 5, later, default)).Check);
        Assert.Equal(userId, await Mfa.SpendChallengeAsync(liveChallenge, later, default));
        Assert.Equal(CodeCheck.Unusable, (await EmailCodes.CheckAsync(expired, Digest("expired"), 5, later, default)).Check);

        // The code and challenge just spent are purged in turn (the Table store once their expiry hour is due), and
        // then nothing is left to do.
        Time.Advance(TimeSpan.FromDays(2));
        var second = await Maintenance.RunAsync(default);
        Assert.True(second.EmailCodes >= 1);
        Assert.True(second.MfaChallenges >= 1);
        var third = await Maintenance.RunAsync(default);
        Assert.Equal(0, third.EmailCodes);
        Assert.Equal(0, third.MfaChallenges);
    }

    [Fact]
    public async Task Totp_steps_recovery_codes_and_challenges_are_each_accepted_once_across_processes()
    {
        var userId = Ids.New(Time);
        var now = Time.GetUtcNow();
        Assert.True(await Mfa.BeginTotpAsync(new TotpEnrolment(userId, "v1.x.first", now, null, -1), default));
        Assert.True(await Mfa.BeginTotpAsync(new TotpEnrolment(userId, "v1.x.second", now, null, -1), default));
        Assert.False(await Mfa.ConfirmTotpAsync(userId, "v1.x.first", 10, [Digest("rc1")], now, default));
        Assert.True(await Mfa.ConfirmTotpAsync(userId, "v1.x.second", 10, [Digest("rc1"), Digest("rc2")], now, default));
        Assert.False(await Mfa.BeginTotpAsync(new TotpEnrolment(userId, "v1.x.third", now, null, -1), default));
        Assert.Equal(new TotpEnrolment(userId, "v1.x.second", now, now, 10), await Mfa.FindTotpAsync(userId, default));

        await using var other = BuildServices(storeSettings);
        var stores = new[] { Mfa, other.GetRequiredService<IMfaStore>() };
        var steps = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => stores[i % 2].AcceptStepAsync(userId, 11, default)));
        Assert.Single(steps, s => s);
        Assert.False(await Mfa.AcceptStepAsync(userId, 10, default));
        Assert.True(await Mfa.AcceptStepAsync(userId, 12, default));

        var spends = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => stores[i % 2].SpendRecoveryCodeAsync(userId, Digest("rc2"), now, default)));
        Assert.Single(spends, s => s);
        Assert.False(await Mfa.SpendRecoveryCodeAsync(userId, Digest("nope"), now, default));

        await Mfa.AddChallengeAsync(new MfaChallenge(Digest("challenge"), userId, now.AddMinutes(5)), default);
        var challenges = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => stores[i % 2].SpendChallengeAsync(Digest("challenge"), now, default)));
        Assert.Equal([userId], challenges.OfType<string>());
        await Mfa.AddChallengeAsync(new MfaChallenge(Digest("late"), userId, now.AddMinutes(5)), default);
        Assert.Null(await Mfa.SpendChallengeAsync(Digest("late"), now.AddMinutes(5), default));

        Assert.True(await Mfa.RemoveTotpAsync(userId, default));
        Assert.Null(await Mfa.FindTotpAsync(userId, default));
        Assert.False(await Mfa.SpendRecoveryCodeAsync(userId, Digest("rc1"), now, default));
        Assert.False(await Mfa.RemoveTotpAsync(userId, default));
    }

    [Fact]
    public async Task A_federated_identity_links_to_one_user_whatever_races_it()
    {
        await using var other = BuildServices(storeSettings);
        var stores = new[] { Identities, other.GetRequiredService<IFederatedIdentityStore>() };
        var subject = "sub-" + Guid.NewGuid().ToString("N");

        var linked = await Task.WhenAll(Enumerable.Range(0, 12).Select(i =>
            stores[i % 2].LinkAsync("google", subject, "user-" + i, Time.GetUtcNow(), default)));

        var winner = Assert.Single(Enumerable.Range(0, 12), i => linked[i]);
        Assert.Equal("user-" + winner, await Identities.FindUserIdAsync("google", subject, default));
        Assert.Null(await Identities.FindUserIdAsync("other", subject, default));
    }
}
