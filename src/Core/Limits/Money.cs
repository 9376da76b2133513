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

    public static long ToMicros(decimal amount) => (long)(amount * Scale);

    public static decimal FromMicros(long micros) => micros / Scale;
}
