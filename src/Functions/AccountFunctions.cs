using IronAuth.Api.Endpoints;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace IronAuth.Functions;

/// <summary>Self-service accounts: sign-up, email verification and reset by email.</summary>
public static class AccountFunctions
{
    [Function("Register")]
    public static Task<IResult> Register(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "auth/register")] HttpRequest req) => AccountEndpoints.Register(req);

    [Function("VerifyEmail")]
    public static Task<IResult> VerifyEmail(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "auth/verify-email")] HttpRequest req) => AccountEndpoints.VerifyEmail(req);

    [Function("ResendVerification")]
    public static Task<IResult> ResendVerification(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "auth/verify-email/resend")] HttpRequest req) =>
        AccountEndpoints.ResendVerification(req);

    [Function("RequestPasswordReset")]
    public static Task<IResult> RequestPasswordReset(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "auth/password-reset/request")] HttpRequest req) =>
        AccountEndpoints.RequestPasswordReset(req);
}
