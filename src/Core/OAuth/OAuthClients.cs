using IronAuth.Core.Tokens;

namespace IronAuth.Core.OAuth;

/// <summary>
/// OAuth client authentication (RFC 6749 §2.3) where a confidential client is an API token: <c>client_id</c> is the
/// token's id and <c>client_secret</c> the token. Authenticating is one use of the API token, checked and metered as a
/// bearer use is (<see cref="TokenVerifier"/>: bucket and quota).
/// </summary>
public sealed class OAuthClients(TokenVerifier verifier, TimeProvider time)
{
    // RFC 6749 §5.2: one answer for every way client authentication fails, so it never says which part was wrong.
    public static readonly Failure InvalidClient =
        new(FailureKind.Unauthorized, "invalid_client", "Client authentication failed: client_id is an API token's id and client_secret the token.");

    /// <summary>The verdict on the client's API token (valid, with its owner and effective scopes), or why not.</summary>
    public async Task<Result<TokenVerdict>> AuthenticateAsync(string clientId, string clientSecret, CancellationToken cancellationToken)
    {
        var verdict = await verifier.VerifyAsync(clientSecret, 0, 0, cancellationToken);
        if (verdict.Code is VerdictCode.RateLimited or VerdictCode.QuotaExceeded)
        {
            // A throttled client is a known client: it hears when to come back, as a bearer would.
            return verdict.ToFailure(time.GetUtcNow());
        }

        if (!verdict.IsValid)
        {
            return InvalidClient;
        }

        return string.Equals(verdict.Token!.Id, clientId, StringComparison.Ordinal) ? verdict : InvalidClient;
    }
}
