using IronAuth.Core.Sessions;

namespace IronAuth.Core.Tokens;

/// <summary>An access token issued to an API token acting as an OAuth client.</summary>
public sealed record ClientAccessToken(IssuedAccessToken Access, IReadOnlyList<string> Scopes);

/// <summary>
/// The client credentials grant (RFC 6749 §4.4) with an API token as the confidential client: <c>client_id</c> is the
/// token's id and <c>client_secret</c> the token itself. The grant is one use of the API token, checked and metered
/// exactly as a bearer use is (<see cref="TokenVerifier"/>: bucket and quota), and the access token it issues acts for
/// the token's owner with at most the token's effective scopes, expiring no later than the API token does.
/// </summary>
public sealed class ClientCredentialsGrant(TokenVerifier verifier, AccessTokens accessTokens, TimeProvider time)
{
    // RFC 6749 §5.2: one answer for every way client authentication fails, so it never says which part was wrong.
    private static readonly Failure InvalidClient =
        new(FailureKind.Unauthorized, "invalid_client", "Client authentication failed: client_id is an API token's id and client_secret the token.");

    /// <param name="requestedScopes">The <c>scope</c> parameter split on spaces; null or empty for all the token may do.</param>
    public async Task<Result<ClientAccessToken>> IssueAsync(
        string clientId, string clientSecret, IReadOnlyCollection<string>? requestedScopes, CancellationToken cancellationToken)
    {
        var verdict = await verifier.VerifyAsync(clientSecret, 0, 0, cancellationToken);
        switch (verdict.Code)
        {
            case VerdictCode.RateLimited:
                return new Failure(FailureKind.TooManyRequests, "rate_limited", "This client's API token is over its rate limit; slow down.")
                {
                    RetryAfter = verdict.Bucket!.RetryAfter,
                };
            case VerdictCode.QuotaExceeded:
                var now = time.GetUtcNow();
                return new Failure(FailureKind.TooManyRequests, "quota_exceeded", "This client's API token has used up a daily quota.")
                {
                    RetryAfter = now.UtcDateTime.Date.AddDays(1) - now.UtcDateTime,
                };
            case not VerdictCode.Valid:
                return InvalidClient;
        }

        var token = verdict.Token!;
        if (!string.Equals(token.Id, clientId, StringComparison.Ordinal))
        {
            return InvalidClient;
        }

        var granted = requestedScopes is { Count: > 0 } ? requestedScopes.Distinct(StringComparer.Ordinal).ToList() : [.. verdict.Scopes!];
        if (granted.FirstOrDefault(scope => !verdict.Scopes!.Contains(scope)) is { } beyond)
        {
            return new Failure(FailureKind.Validation, "invalid_scope", $"Scope '{beyond}' is not among the scopes this client's API token holds.");
        }

        var access = await accessTokens.IssueAsync(verdict.Owner!, sessionId: null, token.Id, granted, notAfter: token.ExpiresAt);
        return new ClientAccessToken(access, [.. granted.Order(StringComparer.Ordinal)]);
    }
}
