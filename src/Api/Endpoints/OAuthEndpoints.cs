using IronAuth.Api.Contracts;
using IronAuth.Api.Http;
using IronAuth.Core.Configuration;
using IronAuth.Core.Sessions;
using IronAuth.Core.Signing;
using IronAuth.Core.Tokens;
using IronAuth.Core.Users;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;

namespace IronAuth.Api.Endpoints;

/// <summary>
/// The OAuth 2.0 and OpenID Connect endpoints: discovery metadata and the token endpoint. They speak the RFCs' formats
/// (form bodies in, RFC 6749 error objects out); the grants themselves are Core's (<see cref="SignInManager"/>,
/// <see cref="ClientCredentialsGrant"/>).
/// </summary>
public static class OAuthEndpoints
{
    public const string GrantPassword = "password";
    public const string GrantRefreshToken = "refresh_token";
    public const string GrantClientCredentials = "client_credentials";

    /// <summary>
    /// OpenID Provider metadata (OpenID Connect Discovery 1.0 §3), which is also RFC 8414 authorization-server metadata:
    /// served at issuer + <c>/.well-known/openid-configuration</c>, every endpoint an absolute URL under the issuer.
    /// </summary>
    public static async Task<IResult> Discovery(HttpRequest request)
    {
        var services = request.HttpContext.RequestServices;
        var issuer = services.GetRequiredService<IOptions<IronAuthOptions>>().Value.Jwt.Issuer;
        var key = await services.GetRequiredService<SigningKeys>().GetAsync();
        var metadata = new OpenIdConnectConfiguration
        {
            Issuer = issuer,
            JwksUri = $"{issuer}/{IronAuthRoutes.JwksRoute}",
            TokenEndpoint = $"{issuer}/{IronAuthRoutes.TokenRoute}",
            ServiceDocumentation = $"{issuer}/openapi.json",
        };
        // No authorization endpoint: no grant here redirects a browser, so there is no response type to offer (the
        // list is required, and empty says so); tokens are about their user, the same subject for every client.
        metadata.GrantTypesSupported.Add(GrantPassword);
        metadata.GrantTypesSupported.Add(GrantRefreshToken);
        metadata.GrantTypesSupported.Add(GrantClientCredentials);
        metadata.TokenEndpointAuthMethodsSupported.Add("client_secret_basic");
        metadata.TokenEndpointAuthMethodsSupported.Add("client_secret_post");
        // Password and refresh grants need no client authentication (a public, first-party client).
        metadata.TokenEndpointAuthMethodsSupported.Add("none");
        metadata.SubjectTypesSupported.Add("public");
        metadata.IdTokenSigningAlgValuesSupported.Add(key.Algorithm);
        foreach (var scope in Permissions.All)
        {
            metadata.ScopesSupported.Add(scope);
        }

        foreach (var claim in new[] { "iss", "aud", "sub", "exp", "iat", "nbf", "jti", "client_id", "scope", "sid", "role", "preferred_username" })
        {
            metadata.ClaimsSupported.Add(claim);
        }

        request.HttpContext.Response.Headers.CacheControl = "public, max-age=300";
        return TypedResults.Text(OpenIdConnectConfiguration.Write(metadata), "application/json");
    }

    /// <summary>The token endpoint (RFC 6749 §3.2): password, refresh_token and client_credentials grants.</summary>
    public static async Task<IResult> Token(HttpRequest request)
    {
        var (oauth, error) = await OAuthProtocol.ReadAsync(request);
        if (error is not null)
        {
            return error;
        }

        var context = request.HttpContext;
        return oauth!["grant_type"] switch
        {
            null => OAuthProtocol.Error(StatusCodes.Status400BadRequest, "invalid_request", "grant_type is required."),
            GrantPassword => await PasswordAsync(context, oauth),
            GrantRefreshToken => await RefreshAsync(context, oauth),
            GrantClientCredentials => await ClientCredentialsAsync(context, oauth),
            _ => OAuthProtocol.Error(StatusCodes.Status400BadRequest, "unsupported_grant_type",
                $"Supported grant types: {GrantPassword}, {GrantRefreshToken}, {GrantClientCredentials}."),
        };
    }

    // RFC 6749 §4.3. The sign-in is /auth/login's, with its throttling, lockout and audit.
    private static async Task<IResult> PasswordAsync(HttpContext context, OAuthRequest oauth)
    {
        if (oauth["username"] is not { } username || oauth["password"] is not { } password)
        {
            return OAuthProtocol.Error(StatusCodes.Status400BadRequest, "invalid_request", "username and password are required.");
        }

        if (BeyondRole(oauth, out var invalidScope))
        {
            return invalidScope!;
        }

        var signIns = context.RequestServices.GetRequiredService<SignInManager>();
        var result = await signIns.LoginAsync(username, password, context.Request.ClientIp(), context.RequestAborted);
        return result.Failure is { } failure ? OAuthProtocol.ErrorFor(context, failure) : SessionTokens(context, result.Value!);
    }

    // RFC 6749 §6: rotation and reuse detection exactly as /auth/refresh.
    private static async Task<IResult> RefreshAsync(HttpContext context, OAuthRequest oauth)
    {
        if (oauth["refresh_token"] is not { } refreshToken)
        {
            return OAuthProtocol.Error(StatusCodes.Status400BadRequest, "invalid_request", "refresh_token is required.");
        }

        if (BeyondRole(oauth, out var invalidScope))
        {
            return invalidScope!;
        }

        var signIns = context.RequestServices.GetRequiredService<SignInManager>();
        var result = await signIns.RefreshAsync(refreshToken, context.Request.ClientIp(), context.RequestAborted);
        return result.Failure is { } failure ? OAuthProtocol.ErrorFor(context, failure) : SessionTokens(context, result.Value!);
    }

    // RFC 6749 §4.4, with an API token as the confidential client.
    private static async Task<IResult> ClientCredentialsAsync(HttpContext context, OAuthRequest oauth)
    {
        if (oauth.ClientId is not { } clientId || oauth.ClientSecret is not { } secret)
        {
            return OAuthProtocol.InvalidClient("client_credentials needs client authentication: an API token's id and the token, by HTTP Basic or form fields.");
        }

        var grant = context.RequestServices.GetRequiredService<ClientCredentialsGrant>();
        var result = await grant.IssueAsync(clientId, secret, OAuthProtocol.Scopes(oauth["scope"]), context.RequestAborted);
        if (result.Failure is { } failure)
        {
            return OAuthProtocol.ErrorFor(context, failure);
        }

        var issued = result.Value!;
        var now = context.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow();
        return TypedResults.Ok(new OAuthTokenResponse(
            issued.Access.Token, "Bearer", Seconds(issued.Access.ExpiresAt - now), string.Join(' ', issued.Scopes)));
    }

    private static IResult SessionTokens(HttpContext context, SignIn signIn)
    {
        var now = context.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow();
        return TypedResults.Ok(new OAuthTokenResponse(
            signIn.Access.Token,
            "Bearer",
            Seconds(signIn.Access.ExpiresAt - now),
            string.Join(' ', Permissions.Of(signIn.User.Role).Order(StringComparer.Ordinal)),
            signIn.RefreshToken,
            Seconds(signIn.RefreshExpiresAt - now)));
    }

    /// <summary>
    /// A session's token carries its user's role's permissions, whatever <c>scope</c> asks (RFC 6749 §3.3 lets the server
    /// grant other than requested; the response's <c>scope</c> says what was granted). A scope that is not a permission
    /// at all is refused, so a typo does not go unnoticed.
    /// </summary>
    private static bool BeyondRole(OAuthRequest oauth, out IResult? error)
    {
        error = OAuthProtocol.Scopes(oauth["scope"]).FirstOrDefault(s => !Permissions.IsKnown(s)) is { } unknown
            ? OAuthProtocol.Error(StatusCodes.Status400BadRequest, "invalid_scope", $"Unknown scope '{unknown}'. Scopes: {string.Join(' ', Permissions.All)}.")
            : null;
        return error is not null;
    }

    private static long Seconds(TimeSpan span) => Math.Max(0, (long)span.TotalSeconds);
}
