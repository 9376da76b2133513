namespace IronAuth.Core.Mfa;

/// <summary>A user's TOTP authenticator: its encrypted secret, whether it is confirmed, and the last time step accepted.</summary>
public sealed record TotpEnrolment(string UserId, string ProtectedSecret, DateTimeOffset CreatedAt, DateTimeOffset? ConfirmedAt, long LastStep)
{
    public bool IsConfirmed => ConfirmedAt is not null;
}

/// <summary>A sign-in that proved the password and waits for its second factor; stored as the digest of its <c>mfa_token</c>.</summary>
public sealed record MfaChallenge(byte[] Digest, string UserId, DateTimeOffset ExpiresAt);

/// <summary>Two-factor state: TOTP enrolments, recovery codes (digests) and pending sign-ins.</summary>
public interface IMfaStore
{
    Task<TotpEnrolment?> FindTotpAsync(string userId, CancellationToken cancellationToken);

    /// <summary>Stores an unconfirmed enrolment, replacing an unconfirmed one; false (nothing written) when one is confirmed.</summary>
    Task<bool> BeginTotpAsync(TotpEnrolment enrolment, CancellationToken cancellationToken);

    /// <summary>
    /// Confirms the unconfirmed enrolment that still holds <paramref name="protectedSecret"/>, with <paramref name="step"/>
    /// as its last accepted step, and replaces the user's recovery codes, in one atomic step; false when it changed.
    /// </summary>
    Task<bool> ConfirmTotpAsync(
        string userId, string protectedSecret, long step, IReadOnlyList<byte[]> recoveryDigests, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Records <paramref name="step"/> as used when it is later than the last accepted one; false otherwise (a code
    /// replayed within its window, or an older one). Atomic: of concurrent uses of one step, one gets true.
    /// </summary>
    Task<bool> AcceptStepAsync(string userId, long step, CancellationToken cancellationToken);

    /// <summary>Spends one recovery code; true for exactly one of any number of concurrent callers.</summary>
    Task<bool> SpendRecoveryCodeAsync(string userId, byte[] digest, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Removes the enrolment and every recovery code; false when there was no enrolment.</summary>
    Task<bool> RemoveTotpAsync(string userId, CancellationToken cancellationToken);

    Task AddChallengeAsync(MfaChallenge challenge, CancellationToken cancellationToken);

    /// <summary>Spends an unexpired challenge and returns its user; null for all but one of concurrent callers.</summary>
    Task<string?> SpendChallengeAsync(byte[] digest, DateTimeOffset now, CancellationToken cancellationToken);
}
