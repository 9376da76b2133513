using IronAuth.Core.Limits;

namespace IronAuth.Core.Budgets;

/// <summary>What budget requests may contain; each refusal is a 400 naming the field.</summary>
public static class BudgetRules
{
    public const int MaxNameLength = 100;
    public const int MaxAgentIdLength = 64;
    public const int MaxReportIdLength = 128;
    public const int MaxProviderLength = 64;
    public const int MaxSecretLength = 8 * 1024;

    /// <summary>The largest allocation or request: well inside micros' range, far beyond any real budget.</summary>
    public const decimal MaxAmount = 1_000_000_000m;

    public const string Handshake = "handshake";
    public const string Report = "report";
    public const string Refresh = "refresh";
    public const string Close = "close";

    /// <summary>The protocol permissions an IC token may carry; a mint that names none gets all four.</summary>
    public static IReadOnlyList<string> ProtocolPermissions { get; } = [Handshake, Report, Refresh, Close];

    /// <summary>Agent and report ids: letters, digits and <c>. _ - : @</c>, so they are safe in table keys and logs.</summary>
    public static bool IsValidAgentId(string? value) => IsToken(value, MaxAgentIdLength);

    public static bool IsValidReportId(string? value) => IsToken(value, MaxReportIdLength);

    /// <summary>A positive amount (or zero when <paramref name="allowZero"/>) with at most six decimal places.</summary>
    public static Failure? CheckAmount(decimal amount, string field, bool allowZero = false)
    {
        if (amount < 0 || (!allowZero && amount == 0))
        {
            return Failure.Validation($"{field} must be {(allowZero ? "zero or more" : "more than zero")}.");
        }

        if (amount > MaxAmount)
        {
            return Failure.Validation($"{field} must be at most {MaxAmount}.");
        }

        return Money.IsRepresentable(amount) ? null : Failure.Validation($"{field} may have at most {Money.Decimals} decimal places.");
    }

    public static Failure? CheckName(string? name) =>
        string.IsNullOrWhiteSpace(name) || name.Length > MaxNameLength || name.Any(char.IsControl)
            ? Failure.Validation($"name must be 1 to {MaxNameLength} characters without control characters.")
            : null;

    private static bool IsToken(string? value, int maxLength) =>
        value is { Length: > 0 } && value.Length <= maxLength
        && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or ':' or '@');
}
