using IronAuth.Api.Contracts;
using IronAuth.Api.Http;
using IronAuth.Core;
using IronAuth.Core.Configuration;
using IronAuth.Core.OAuth;
using IronAuth.Core.Sessions;
using IronAuth.Core.Signing;
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
        var keys = await services.GetRequiredService<SigningKeys>().GetSetAsync();
        var metadata = new OpenIdConnectConfiguration
        {
            Issuer = issuer,
            JwksUri = $"{issuer}/{IronAuthRoutes.JwksRoute}",
            TokenEndpoint = $"{issuer}/{IronAuthRoutes.TokenRoute}",
            IntrospectionEndpoint = $"{issuer}/{IronAuthRoutes.IntrospectRoute}",
            RevocationEndpoint = $"{issuer}/{IronAuthRoutes.RevokeRoute}",
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
        metadata.IntrospectionEndpointAuthMethodsSupported.Add("client_secret_basic");
        metadata.IntrospectionEndpointAuthMethodsSupported.Add("client_secret_post");
        // Not a client authentication method of RFC 8414's registry, but how a caller holding tokens:verify may also ask.
        metadata.IntrospectionEndpointAuthMethodsSupported.Add("bearer");
        metadata.RevocationEndpointAuthMethodsSupported.Add("client_secret_basic");
        metadata.RevocationEndpointAuthMethodsSupported.Add("client_secret_post");
        metadata.RevocationEndpointAuthMethodsSupported.Add("none");
        metadata.SubjectTypesSupported.Add("public");
        // Required by both specs; the library leaves out empty lists, so the empty one goes in as is.
        metadata.AdditionalData["response_types_supported"] = Array.Empty<string>();
        foreach (var algorithm in keys.Algorithms)
        {
            metadata.IdTokenSigningAlgValuesSupported.Add(algorithm);
        }

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
        // RFC 6749 §5.1: token responses carry Cache-Control: no-store (ResponseDefaults) and Pragma: no-cache, for
        // HTTP/1.0 caches; errors too.
        request.HttpContext.Response.Headers.Pragma = "no-cache";
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

    /// <summary>
    /// Token introspection (RFC 7662). The caller holds <c>tokens:verify</c>, as an API-token client (Basic or form) or a
    /// bearer; an inactive or unknown token answers exactly <c>{"active": false}</c> (§2.2).
    /// </summary>
    public static async Task<IResult> Introspect(HttpRequest request)
    {
        var (oauth, error) = await OAuthProtocol.ReadAsync(request);
        if (error is not null)
        {
            return error;
        }

        var context = request.HttpContext;
        var (caller, denied) = await CallerAsync(context, oauth!);
        if (denied is not null)
        {
            return denied;
        }

        if (caller is null)
        {
            return OAuthProtocol.InvalidClient("Introspection needs a caller holding tokens:verify: an API token as client (Basic) or a bearer.");
        }

        if (caller.Require(Permissions.TokensVerify) is { } forbidden)
        {
            return OAuthProtocol.Error(StatusCodes.Status403Forbidden, "insufficient_scope", forbidden.Detail);
        }

        if (oauth!["token"] is not { Length: > 0 } token)
        {
            return OAuthProtocol.Error(StatusCodes.Status400BadRequest, "invalid_request", "token is required.");
        }

        var found = await context.RequestServices.GetRequiredService<TokenIntrospector>().IntrospectAsync(token, context.RequestAborted);
        if (!found.Active)
        {
            return TypedResults.Json(new Dictionary<string, object?> { ["active"] = false }, ApiJson.Options);
        }

        var jwt = context.RequestServices.GetRequiredService<IOptions<IronAuthOptions>>().Value.Jwt;
        var answer = new Dictionary<string, object?>
        {
            ["active"] = true,
            ["scope"] = found.Scope,
            ["client_id"] = found.ClientId,
            ["username"] = found.Username,
            ["sub"] = found.Subject,
            ["iss"] = jwt.Issuer,
            ["iat"] = found.IssuedAt?.ToUnixTimeSeconds(),
            ["exp"] = found.ExpiresAt?.ToUnixTimeSeconds(),
            // Extension member: which of IronAuth's tokens this is (RFC 7662 §2.2 allows more members).
            ["token_use"] = found.Kind switch
            {
                TokenKind.AccessToken => "access_token",
                TokenKind.RefreshToken => "refresh_token",
                _ => "api_token",
            },
        };
        if (found.Kind is TokenKind.AccessToken or TokenKind.ApiToken)
        {
            answer["token_type"] = "Bearer";
        }

        if (found.Kind == TokenKind.AccessToken)
        {
            answer["aud"] = jwt.Audience;
            answer["jti"] = found.Jti;
        }

        return TypedResults.Json(answer, ApiJson.Options);
    }

    /// <summary>
    /// Token revocation (RFC 7009): a refresh or access token ends its session; an API token needs its owner's or an
    /// admin's credentials (Basic client or bearer). Unknown or invalid tokens answer 200 like revoked ones (§2.2).
    /// </summary>
    public static async Task<IResult> Revoke(HttpRequest request)
    {
        var (oauth, error) = await OAuthProtocol.ReadAsync(request);
        if (error is not null)
        {
            return error;
        }

        var context = request.HttpContext;
        if (oauth!["token"] is not { Length: > 0 } token)
        {
            return OAuthProtocol.Error(StatusCodes.Status400BadRequest, "invalid_request", "token is required.");
        }

        var (caller, denied) = await CallerAsync(context, oauth);
        if (denied is not null)
        {
            return denied;
        }

        var introspector = context.RequestServices.GetRequiredService<TokenIntrospector>();
        var result = await introspector.RevokeAsync(token, caller, request.ClientIp(), context.RequestAborted);
        return result.Failure switch
        {
            null => TypedResults.Ok(),
            { Kind: FailureKind.Forbidden } when caller is null => OAuthProtocol.InvalidClient(result.Failure.Detail),
            { Kind: FailureKind.Forbidden } => OAuthProtocol.Error(StatusCodes.Status403Forbidden, "unauthorized_client", result.Failure.Detail),
            { Code: "unsupported_token_type" } => OAuthProtocol.Error(StatusCodes.Status400BadRequest, "unsupported_token_type", result.Failure.Detail),
            { } failure => OAuthProtocol.ErrorFor(context, failure),
        };
    }

    // RFC 6749 §4.3. The sign-in is /auth/login's, with its throttling, lockout and audit.
    private static async Task<IResult> PasswordAsync(HttpContext context, OAuthRequest oauth)
    {
        if (oauth["username"] is not { } username || oauth["password"] is not { } password)
        {
            return OAuthProtocol.Error(StatusCodes.Status400BadRequest, "invalid_request", "username and password are required.");
        }

        if (NamesUnknownScope(oauth, out var invalidScope))
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

        if (NamesUnknownScope(oauth, out var invalidScope))
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

    /// <summary>
    /// Who is asking, if anyone: an API-token client (client_id and client_secret, by Basic or form) or a bearer. A
    /// client_id without a secret is a public client, which is no one in particular.
    /// </summary>
    private static async Task<(Caller? Caller, IResult? Error)> CallerAsync(HttpContext context, OAuthRequest oauth)
    {
        if (oauth.ClientId is { } clientId && oauth.ClientSecret is { Length: > 0 } secret)
        {
            var clients = context.RequestServices.GetRequiredService<OAuthClients>();
            var authenticated = await clients.AuthenticateAsync(clientId, secret, context.RequestAborted);
            if (authenticated.Failure is { } failure)
            {
                return (null, OAuthProtocol.ErrorFor(context, failure));
            }

            return (Authentication.CallerOf(authenticated.Value!), null);
        }

        if (context.Request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return await context.Request.AuthenticateAsync();
        }

        return (null, null);
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
    private static bool NamesUnknownScope(OAuthRequest oauth, out IResult? error)
    {
        error = OAuthProtocol.Scopes(oauth["scope"]).FirstOrDefault(s => !Permissions.IsKnown(s)) is { } unknown
            ? OAuthProtocol.Error(StatusCodes.Status400BadRequest, "invalid_scope", $"Unknown scope '{unknown}'. Scopes: {string.Join(' ', Permissions.All)}.")
            : null;
        return error is not null;
    }

    private static long Seconds(TimeSpan span) => Math.Max(0, (long)span.TotalSeconds);
}
