using IronAuth.Core.Limits;

namespace IronAuth.Tests.Unit;

public sealed class QuotaRulesTests
{
    private static UsageDay Day(long requests, long tokens = 0, long cost = 0) => new("t", new DateOnly(2026, 11, 23), requests, tokens, cost);

    [Fact]
    public void No_caps_never_refuse() =>
        Assert.Equal(QuotaKind.None, QuotaRules.Refusal(Day(1_000_000, 1_000_000, 1_000_000), new UsageDelta(1, 50, 10), new Quota(0, 0, 0)));

    [Fact]
    public void The_last_request_under_the_cap_is_admitted_and_the_next_refused()
    {
        var quota = new Quota(3, 0, 0);
        Assert.Equal(QuotaKind.None, QuotaRules.Refusal(Day(2), new UsageDelta(1, 0, 0), quota));
        Assert.Equal(QuotaKind.DailyRequests, QuotaRules.Refusal(Day(3), new UsageDelta(1, 0, 0), quota));
    }

    [Fact]
    public void A_used_up_token_budget_refuses_even_a_request_without_tokens()
    {
        var quota = new Quota(0, 100, 0);
        Assert.Equal(QuotaKind.None, QuotaRules.Refusal(Day(5, 99), new UsageDelta(1, 0, 0), quota));
        Assert.Equal(QuotaKind.DailyTokens, QuotaRules.Refusal(Day(5, 100), new UsageDelta(1, 0, 0), quota));
        Assert.Equal(QuotaKind.DailyTokens, QuotaRules.Refusal(Day(5, 90), new UsageDelta(1, 11, 0), quota));
    }

    [Fact]
    public void Cost_is_exact_in_micros()
    {
        var cap = Money.ToMicros(0.3m);
        var spent = Money.ToMicros(0.1m) + Money.ToMicros(0.1m);
        Assert.Equal(QuotaKind.None, QuotaRules.Refusal(Day(0, 0, spent), new UsageDelta(1, 0, Money.ToMicros(0.1m)), new Quota(0, 0, cap)));
        Assert.Equal(0.3m, Money.FromMicros(spent + Money.ToMicros(0.1m)));
        Assert.False(Money.IsRepresentable(0.0000001m));
        Assert.True(Money.IsRepresentable(12.345678m));
    }

    [Fact]
    public void Exhausted_names_the_first_used_up_quota()
    {
        Assert.Equal(QuotaKind.DailyCost, QuotaRules.Exhausted(Day(1, 1, 500), new Quota(10, 10, 500)));
        Assert.Equal(QuotaKind.None, QuotaRules.Exhausted(Day(1, 1, 499), new Quota(10, 10, 500)));
    }
}
