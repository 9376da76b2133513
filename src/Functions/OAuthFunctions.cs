using IronAuth.Api.Endpoints;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace IronAuth.Functions;

/// <summary>OpenID discovery and the OAuth 2.0 token endpoint.</summary>
public static class OAuthFunctions
{
    [Function("OpenIdConfiguration")]
    public static Task<IResult> OpenIdConfiguration(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = ".well-known/openid-configuration")] HttpRequest req) =>
        OAuthEndpoints.Discovery(req);

    [Function("OAuthToken")]
    public static Task<IResult> OAuthToken(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "oauth/token")] HttpRequest req) => OAuthEndpoints.Token(req);
}
