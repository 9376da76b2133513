using IronAuth.Api.Endpoints;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace IronAuth.Functions;

/// <summary>Self-service accounts: sign-up, email verification, reset by email, TOTP two-factor and federated sign-in.</summary>
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

    [Function("BeginTotp")]
    public static Task<IResult> BeginTotp(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "auth/mfa/totp")] HttpRequest req) => MfaEndpoints.BeginTotp(req);

    [Function("ConfirmTotp")]
    public static Task<IResult> ConfirmTotp(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "auth/mfa/totp/confirm")] HttpRequest req) => MfaEndpoints.ConfirmTotp(req);

    [Function("DisableTotp")]
    public static Task<IResult> DisableTotp(
        [HttpTrigger(AuthorizationLevel.Anonymous, "delete", Route = "auth/mfa/totp")] HttpRequest req) => MfaEndpoints.DisableTotp(req);

    [Function("VerifyMfa")]
    public static Task<IResult> VerifyMfa(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "auth/mfa/verify")] HttpRequest req) => MfaEndpoints.Verify(req);

    [Function("FederatedSignIn")]
    public static Task<IResult> FederatedSignIn(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "auth/federated")] HttpRequest req) => AccountEndpoints.Federated(req);

    [Function("ResetUserMfa")]
    public static Task<IResult> ResetUserMfa(
        [HttpTrigger(AuthorizationLevel.Anonymous, "delete", Route = "users/{id}/mfa")] HttpRequest req, string id) => MfaEndpoints.Reset(req, id);
}
