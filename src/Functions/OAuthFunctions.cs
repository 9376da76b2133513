using IronAuth.Api.Endpoints;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace IronAuth.Functions;

/// <summary>OpenID discovery and the OAuth 2.0 token, introspection and revocation endpoints.</summary>
public static class OAuthFunctions
{
    [Function("OpenIdConfiguration")]
    public static Task<IResult> OpenIdConfiguration(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = ".well-known/openid-configuration")] HttpRequest req) =>
        OAuthEndpoints.Discovery(req);

    [Function("OAuthToken")]
    public static Task<IResult> OAuthToken(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "oauth/token")] HttpRequest req) => OAuthEndpoints.Token(req);

    [Function("OAuthIntrospect")]
    public static Task<IResult> OAuthIntrospect(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "oauth/introspect")] HttpRequest req) => OAuthEndpoints.Introspect(req);

    [Function("OAuthRevoke")]
    public static Task<IResult> OAuthRevoke(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "oauth/revoke")] HttpRequest req) => OAuthEndpoints.Revoke(req);
}
