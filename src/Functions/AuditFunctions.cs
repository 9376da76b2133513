using IronAuth.Api.Endpoints;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace IronAuth.Functions;

/// <summary>The audit log, whole or for one user.</summary>
public static class AuditFunctions
{
    [Function("ListAudit")]
    public static Task<IResult> List(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "audit")] HttpRequest req) => AuditEndpoints.List(req);

    [Function("ListUserAudit")]
    public static Task<IResult> ListForUser(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "users/{id}/audit")] HttpRequest req, string id) =>
        AuditEndpoints.ListForUser(req, id);
}
