using IronAuth.Core.Sessions;

namespace IronAuth.Core.OAuth;

/// <summary>An access token issued to an API token acting as an OAuth client.</summary>
public sealed record ClientAccessToken(IssuedAccessToken Access, IReadOnlyList<string> Scopes);

/// <summary>
/// The client credentials grant (RFC 6749 §4.4) with an API token as the confidential client (<see cref="OAuthClients"/>).
/// The access token it issues acts for the token's owner with at most the token's effective scopes, and expires no
/// later than the API token does.
/// </summary>
public sealed class ClientCredentialsGrant(OAuthClients clients, AccessTokens accessTokens)
{
    /// <param name="requestedScopes">The <c>scope</c> parameter split on spaces; empty for all the token may do.</param>
    public async Task<Result<ClientAccessToken>> IssueAsync(
        string clientId, string clientSecret, IReadOnlyCollection<string> requestedScopes, CancellationToken cancellationToken)
    {
        var authenticated = await clients.AuthenticateAsync(clientId, clientSecret, cancellationToken);
        if (authenticated.Failure is { } failure)
        {
            return failure;
        }

        var verdict = authenticated.Value!;
        var granted = requestedScopes.Count > 0 ? requestedScopes.Distinct(StringComparer.Ordinal).ToList() : [.. verdict.Scopes!];
        if (granted.FirstOrDefault(scope => !verdict.Scopes!.Contains(scope)) is { } beyond)
        {
            return new Failure(FailureKind.Validation, "invalid_scope", $"Scope '{beyond}' is not among the scopes this client's API token holds.");
        }

        var token = verdict.Token!;
        var access = await accessTokens.IssueAsync(verdict.Owner!, sessionId: null, token.Id, granted, notAfter: token.ExpiresAt);
        return new ClientAccessToken(access, [.. granted.Order(StringComparer.Ordinal)]);
    }
}
