namespace IronAuth.Core.Budgets;

/// <summary>How close a budget is to its allocation, by the share of it spent (<c>GET /api/budgets/{id}/status</c>).</summary>
public enum BudgetRisk
{
    /// <summary>Under 50% spent.</summary>
    Low,

    /// <summary>50% to under 80%.</summary>
    Medium,

    /// <summary>80% to under 95%.</summary>
    High,

    /// <summary>95% to under 100%.</summary>
    Critical,

    /// <summary>All spent (or more, after overruns), or the budget's state is exhausted.</summary>
    Exhausted,
}

/// <summary>The risk rules. Shares compare in whole micros, so every boundary is exact (49.99% is low, 50% medium).</summary>
public static class BudgetRisks
{
    /// <summary>spent ÷ allocation, rounded to 4 places; 1 when the allocation is zero (nothing is left to spend).</summary>
    public static decimal ShareSpent(Budget budget) =>
        budget.AllocationMicros <= 0 ? 1m : Math.Round((decimal)budget.SpentMicros / budget.AllocationMicros, 4, MidpointRounding.ToZero);

    public static BudgetRisk Of(Budget budget, DateTimeOffset now)
    {
        var spent = (Int128)budget.SpentMicros;
        var allocation = (Int128)budget.AllocationMicros;
        return budget.StateAt(now) == BudgetState.Exhausted || spent >= allocation ? BudgetRisk.Exhausted
            : spent * 100 >= allocation * 95 ? BudgetRisk.Critical
            : spent * 100 >= allocation * 80 ? BudgetRisk.High
            : spent * 100 >= allocation * 50 ? BudgetRisk.Medium
            : BudgetRisk.Low;
    }
}
