namespace IronAuth.Core.Accounts;

/// <summary>
/// An emailed verification code as stored: one per address (a new code replaces the old), only as a keyed digest
/// (<see cref="EmailCodes"/>), with the wrong tries made against it.
/// </summary>
public sealed record EmailCode(string NormalizedEmail, string UserId, byte[] Digest, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt);

/// <summary>What presenting a code did.</summary>
public enum CodeCheck
{
    /// <summary>The code was right and is now spent; exactly one of any number of concurrent callers gets this.</summary>
    Redeemed,

    /// <summary>The code was wrong; the try was counted.</summary>
    Wrong,

    /// <summary>No usable code: none issued, expired, spent, or dead after too many wrong tries. Nothing was counted.</summary>
    Unusable,
}

public interface IEmailCodeStore
{
    /// <summary>Stores <paramref name="code"/> for its address, replacing any earlier code (and its count of wrong tries).</summary>
    Task PutAsync(EmailCode code, CancellationToken cancellationToken);

    /// <summary>
    /// Checks <paramref name="digest"/> against the address's code in one atomic step: right spends it, wrong counts a
    /// try, and a code with <paramref name="maxAttempts"/> wrong tries (or spent, or expired) is refused unchecked.
    /// The user id comes back with <see cref="CodeCheck.Redeemed"/>.
    /// </summary>
    Task<(CodeCheck Check, string? UserId)> CheckAsync(
        string normalizedEmail, byte[] digest, int maxAttempts, DateTimeOffset now, CancellationToken cancellationToken);
}
