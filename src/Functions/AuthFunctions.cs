using IronAuth.Api.Endpoints;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace IronAuth.Functions;

/// <summary>Sign-in, refresh, logout, the caller, JWKS and password-reset confirmation (routes under <c>auth/</c>).</summary>
public static class AuthFunctions
{
    [Function("Login")]
    public static Task<IResult> Login(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "auth/login")] HttpRequest req) => AuthEndpoints.Login(req);

    [Function("Refresh")]
    public static Task<IResult> Refresh(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "auth/refresh")] HttpRequest req) => AuthEndpoints.Refresh(req);

    [Function("Logout")]
    public static Task<IResult> Logout(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "auth/logout")] HttpRequest req) => AuthEndpoints.Logout(req);

    [Function("Me")]
    public static Task<IResult> Me(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "auth/me")] HttpRequest req) => AuthEndpoints.Me(req);

    [Function("Jwks")]
    public static Task<IResult> Jwks(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "auth/jwks.json")] HttpRequest req) => AuthEndpoints.Jwks(req);

    [Function("ConfirmPasswordReset")]
    public static Task<IResult> ConfirmPasswordReset(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "auth/password-reset/confirm")] HttpRequest req) =>
        AuthEndpoints.ConfirmPasswordReset(req);
}
