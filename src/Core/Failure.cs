namespace IronAuth.Core;

/// <summary>How an expected failure is classified; the HTTP edge maps each kind to one status code.</summary>
public enum FailureKind
{
    Validation,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    TooManyRequests,
    Unavailable,

    /// <summary>A budget has nothing left to grant (402: waiting does not help, unlike a 429).</summary>
    PaymentRequired,
}

/// <summary>
/// An expected failure (wrong password, locked account, reused refresh token, ...) with a stable
/// machine <see cref="Code"/>. Exceptions are kept for bugs and infrastructure faults.
/// </summary>
public sealed record Failure(FailureKind Kind, string Code, string Detail)
{
    /// <summary>When set, the caller may try again after this long.</summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>Members the problem body carries beside <c>code</c> (e.g. the <c>mfa_token</c> of <c>mfa_required</c>).</summary>
    public IReadOnlyDictionary<string, string>? Extensions { get; init; }

    public static Failure Validation(string detail) => new(FailureKind.Validation, "validation_failed", detail);

    public static Failure NotFound(string what) => new(FailureKind.NotFound, "not_found", $"{what} was not found.");

    public static Failure Forbidden(string detail) => new(FailureKind.Forbidden, "forbidden", detail);

    public static Failure Conflict(string code, string detail) => new(FailureKind.Conflict, code, detail);
}

/// <summary>Either a value or an expected <see cref="Failure"/>.</summary>
public readonly struct Result<T>
{
    private Result(T? value, Failure? failure)
    {
        Value = value;
        Failure = failure;
    }

    public T? Value { get; }

    public Failure? Failure { get; }

    public bool Succeeded => Failure is null;

    public static implicit operator Result<T>(T value) => new(value, null);

    public static implicit operator Result<T>(Failure failure) => new(default, failure);
}
