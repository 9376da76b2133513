using IronAuth.Api.Endpoints;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace IronAuth.Functions;

/// <summary>Health and the OpenAPI document.</summary>
public static class ServiceFunctions
{
    [Function("Health")]
    public static Task<IResult> Health(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "health")] HttpRequest req) => AuthEndpoints.Health(req);

    [Function("Ready")]
    public static Task<IResult> Ready(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "health/ready")] HttpRequest req) => AuthEndpoints.Ready(req);

    [Function("HealthHead")]
    public static Task<IResult> HealthHead(
        [HttpTrigger(AuthorizationLevel.Anonymous, "head", Route = "health")] HttpRequest req) => AuthEndpoints.Health(req);

    [Function("OpenApi")]
    public static Task<IResult> OpenApi(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "openapi.json")] HttpRequest req) => OpenApiEndpoints.Document(req);
}
