using IronAuth.Core.Configuration;
using IronAuth.Core.Limits;

namespace IronAuth.Tests.Unit;

/// <summary>The bucket and quota arithmetic with values no boundary lets through: nothing throws, wraps or goes negative.</summary>
public sealed class LimitArithmeticTests
{
    [Theory]
    [InlineData(1e-300)]
    [InlineData(double.Epsilon)]
    [InlineData(1e-9)]
    [InlineData(double.NaN)]
    [InlineData(0.0)]
    public void Bucket_times_are_clamped_never_an_overflow(double refillPerSecond)
    {
        // A take of 1e-300 per second once threw "TimeSpan overflowed" here, in the middle of a shared write.
        var refused = BucketTake.From(false, 0.5, 1_000_000, refillPerSecond);
        var admitted = BucketTake.From(true, 0, 1_000_000, refillPerSecond);

        Assert.InRange(refused.RetryAfter, TimeSpan.Zero, BucketTake.MaxWait);
        Assert.InRange(refused.ResetAfter, TimeSpan.Zero, BucketTake.MaxWait);
        Assert.InRange(admitted.ResetAfter, TimeSpan.Zero, BucketTake.MaxWait);
        var fullAt = new BucketState(0, long.MaxValue - (long)BucketTake.MaxWait.TotalMilliseconds).FullAt(1_000_000, refillPerSecond);
        Assert.True(fullAt > 0);
    }

    [Fact]
    public void The_documented_bounds_fit_inside_the_clamp()
    {
        var slowest = BucketTake.From(false, 0, TokenLimits.MaxBurst, TokenLimits.MinRequestsPerSecond);
        Assert.Equal(TimeSpan.FromSeconds(1000), slowest.RetryAfter);
        Assert.Equal(TimeSpan.FromSeconds(1e9), slowest.ResetAfter);
    }

    [Theory]
    [InlineData(double.NaN, 5)]
    [InlineData(double.PositiveInfinity, 5)]
    [InlineData(-1.0, 5)]
    [InlineData(1.0, 0)]
    [InlineData(1.0, -3)]
    public void A_take_with_unusable_limits_throws_before_anything_is_stored(double refillPerSecond, int capacity) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => BucketState.Take(new BucketState(1, 0), capacity, refillPerSecond, 1000, out _));

    [Fact]
    public void Stored_limits_from_before_the_bounds_resolve_inside_them()
    {
        var limits = new TokenLimits(1e-300, int.MaxValue, long.MaxValue, long.MaxValue, 0).Resolve(new IronAuthOptions());

        Assert.Equal((TokenLimits.MinRequestsPerSecond, TokenLimits.MaxBurst), (limits.RequestsPerSecond, limits.Burst));
        Assert.Equal((TokenLimits.MaxDailyRequests, TokenLimits.MaxDailyTokens), (limits.Quota.DailyRequests, limits.Quota.DailyTokens));
        Assert.Equal(10, new TokenLimits(double.NaN).Resolve(new IronAuthOptions()).RequestsPerSecond);
    }

    [Fact]
    public void A_quota_add_that_would_wrap_is_refused_with_or_without_a_cap()
    {
        var day = new UsageDay("t", new DateOnly(2026, 11, 23), 1, 1, 1);

        Assert.Equal(QuotaKind.DailyTokens, QuotaRules.Refusal(day, new UsageDelta(1, long.MaxValue, 0), new Quota(0, 0, 0)));
        Assert.Equal(QuotaKind.DailyTokens, QuotaRules.Refusal(day, new UsageDelta(1, long.MaxValue, 0), new Quota(0, 1000, 0)));
        Assert.Equal(QuotaKind.DailyRequests, QuotaRules.Refusal(day with { Requests = long.MaxValue }, new UsageDelta(1, 0, 0), new Quota(0, 0, 0)));
        Assert.Equal(QuotaKind.DailyCost, QuotaRules.Refusal(day, new UsageDelta(0, 0, -5), new Quota(0, 0, 0)));
        var added = QuotaRules.TryAdd(day, new UsageDelta(1, long.MaxValue - 1, 0), new Quota(0, 0, 0));
        Assert.Equal((true, long.MaxValue), (added.Added, added.Day.Tokens));
    }

    [Fact]
    public void Usage_after_the_fact_saturates()
    {
        var day = new UsageDay("t", new DateOnly(2026, 11, 23), long.MaxValue - 1, 5, 0);

        var after = QuotaRules.AddSaturating(day, new UsageDelta(long.MaxValue, long.MaxValue, -7));

        Assert.Equal((long.MaxValue, long.MaxValue, 0L), (after.Requests, after.Tokens, after.CostMicros));
    }

    [Fact]
    public void A_counter_that_wrapped_before_counters_were_checked_counts_as_full()
    {
        // The day of issue 13's report: 1 token, then long.MaxValue more, stored as a negative count.
        var wrapped = new UsageDay("t", new DateOnly(2026, 11, 23), 2, long.MinValue, 0);

        Assert.Equal(QuotaKind.DailyTokens, QuotaRules.Refusal(wrapped, new UsageDelta(1, 1, 0), new Quota(0, 1000, 0)));
        Assert.Equal(QuotaKind.DailyTokens, QuotaRules.Refusal(wrapped, new UsageDelta(1, 0, 0), new Quota(0, 0, 0)));
        Assert.Equal(long.MaxValue, QuotaRules.AddSaturating(wrapped, new UsageDelta(0, 5, 0)).Tokens);
    }

    [Fact]
    public void Money_refuses_what_micros_cannot_hold()
    {
        Assert.Equal(1_000_000_000_000_000, Money.ToMicros(TokenLimits.MaxDailyCost));
        Assert.Throws<OverflowException>(() => Money.ToMicros(decimal.MaxValue));
        Assert.Throws<OverflowException>(() => Money.ToMicros(10_000_000_000_000m));
    }

    [Theory]
    [InlineData(0, 0, "0")]
    [InlineData(UsageBounds.MaxRequests, UsageBounds.MaxTokens, "1000000000")]
    public void Usage_within_the_bounds_is_accepted(long requests, long tokens, string cost) =>
        Assert.Null(UsageBounds.Check(requests, tokens, decimal.Parse(cost, System.Globalization.CultureInfo.InvariantCulture)));

    [Theory]
    [InlineData(-1, 0, "0")]
    [InlineData(UsageBounds.MaxRequests + 1, 0, "0")]
    [InlineData(0, UsageBounds.MaxTokens + 1, "0")]
    [InlineData(0, long.MaxValue, "0")]
    [InlineData(0, 0, "1000000000.000001")]
    [InlineData(0, 0, "0.0000001")]
    public void Usage_beyond_the_bounds_is_a_validation_failure(long requests, long tokens, string cost) =>
        Assert.Equal("validation_failed", UsageBounds.Check(requests, tokens, decimal.Parse(cost, System.Globalization.CultureInfo.InvariantCulture))?.Code);
}
