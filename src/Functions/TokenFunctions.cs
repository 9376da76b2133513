using IronAuth.Api.Endpoints;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace IronAuth.Functions;

/// <summary>API tokens: issue, list, read, revoke, verify for gateways, and metering.</summary>
public static class TokenFunctions
{
    [Function("CreateToken")]
    public static Task<IResult> Create(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "tokens")] HttpRequest req) => TokenEndpoints.Create(req);

    [Function("ListTokens")]
    public static Task<IResult> List(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "tokens")] HttpRequest req) => TokenEndpoints.List(req);

    [Function("GetToken")]
    public static Task<IResult> Get(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "tokens/{id}")] HttpRequest req, string id) =>
        TokenEndpoints.Get(req, id);

    [Function("RevokeToken")]
    public static Task<IResult> Revoke(
        [HttpTrigger(AuthorizationLevel.Anonymous, "delete", Route = "tokens/{id}")] HttpRequest req, string id) =>
        TokenEndpoints.Revoke(req, id);

    [Function("VerifyToken")]
    public static Task<IResult> Verify(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "tokens/verify")] HttpRequest req) => TokenEndpoints.Verify(req);

    [Function("RecordTokenUsage")]
    public static Task<IResult> RecordUsage(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "tokens/{id}/usage")] HttpRequest req, string id) =>
        TokenEndpoints.RecordUsage(req, id);

    [Function("GetTokenUsage")]
    public static Task<IResult> Usage(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "tokens/{id}/usage")] HttpRequest req, string id) =>
        TokenEndpoints.Usage(req, id);

    // --- ops/usage (issue 19)
    [Function("GetUsageReport")]
    public static Task<IResult> UsageReport(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "usage")] HttpRequest req) =>
        UsageEndpoints.Report(req);

    // --- end ops/usage
}
