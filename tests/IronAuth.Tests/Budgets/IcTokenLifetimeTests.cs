using IronAuth.Core.Configuration;
using IronAuth.Core.Signing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace IronAuth.Tests.Budgets;

/// <summary>IC tokens have a bounded lifetime, and a rotated-out signing key stays published for all of it.</summary>
public sealed class IcTokenLifetimeTests
{
    private static string[] Errors(Action<BudgetOptions> change)
    {
        var options = new IronAuthOptions();
        change(options.Budgets);
        return new BudgetOptionsValidator().Validate(null, options).Failures?.ToArray() ?? [];
    }

    private static TimeSpan PassiveWindow(IronAuthOptions options) =>
        new SigningKeyManager(null!, null!, null!, Options.Create(options), TimeProvider.System, NullLogger<SigningKeyManager>.Instance).PassiveWindow;

    [Theory]
    [InlineData("00:59:59")]
    [InlineData("366.00:00:01")]
    public void A_max_ic_token_lifetime_out_of_bounds_is_refused_at_start(string max)
    {
        Assert.Contains(Errors(b => b.MaxIcTokenLifetime = TimeSpan.Parse(max, System.Globalization.CultureInfo.InvariantCulture)),
            e => e.Contains("IronAuth:Budgets:MaxIcTokenLifetime", StringComparison.Ordinal));
    }

    [Fact]
    public void The_default_ic_token_lifetime_may_not_exceed_the_maximum()
    {
        Assert.Empty(Errors(_ => { }));
        Assert.Empty(Errors(b => (b.IcTokenLifetime, b.MaxIcTokenLifetime) = (TimeSpan.FromHours(24), TimeSpan.FromHours(24))));
        Assert.Contains(Errors(b => (b.IcTokenLifetime, b.MaxIcTokenLifetime) = (TimeSpan.FromHours(25), TimeSpan.FromHours(24))),
            e => e.Contains("IronAuth:Budgets:IcTokenLifetime must be at most IronAuth:Budgets:MaxIcTokenLifetime", StringComparison.Ordinal));
    }

    [Fact]
    public void The_passive_window_covers_the_longest_token_a_key_can_have_signed()
    {
        var options = new IronAuthOptions();
        // Refresh interval (30 s) + the longer of access tokens (15 min) and IC tokens (7 days) + clock skew (30 s).
        Assert.Equal(TimeSpan.FromDays(7) + TimeSpan.FromMinutes(1), PassiveWindow(options));

        options.Budgets.MaxIcTokenLifetime = TimeSpan.FromHours(1);
        options.Jwt.AccessTokenLifetime = TimeSpan.FromHours(2);
        Assert.Equal(TimeSpan.FromHours(2) + TimeSpan.FromMinutes(1), PassiveWindow(options));
    }
}
