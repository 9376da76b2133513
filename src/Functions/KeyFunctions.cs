using IronAuth.Api.Endpoints;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace IronAuth.Functions;

/// <summary>The signing keys: list and rotate (routes under <c>keys</c>).</summary>
public static class KeyFunctions
{
    [Function("ListSigningKeys")]
    public static Task<IResult> ListSigningKeys(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "keys")] HttpRequest req) => KeyEndpoints.List(req);

    [Function("RotateSigningKey")]
    public static Task<IResult> RotateSigningKey(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "keys/rotate")] HttpRequest req) => KeyEndpoints.Rotate(req);
}
