namespace IronAuth.Core.Limits;

/// <summary>
/// Costs are decimals with at most six decimal places, stored as whole millionths (micros) so sums and
/// caps are exact integer arithmetic in every store.
/// </summary>
public static class Money
{
    public const int Decimals = 6;
    private const decimal Scale = 1_000_000m;

    public static bool IsRepresentable(decimal amount) =>
        decimal.Round(amount, Decimals) == amount && Math.Abs(amount) <= long.MaxValue / Scale;

    /// <summary>
    /// The amount in micros. Checked: an amount beyond <see cref="IsRepresentable"/> throws rather than wrapping
    /// (callers validate first, so only a bug gets here).
    /// </summary>
    public static long ToMicros(decimal amount) =>
        Math.Abs(amount) <= long.MaxValue / Scale
            ? checked((long)(amount * Scale))
            : throw new OverflowException($"A cost of {amount} does not fit in micros.");

    public static decimal FromMicros(long micros) => micros / Scale;
}
