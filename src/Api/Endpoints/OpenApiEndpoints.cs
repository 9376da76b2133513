using IronAuth.Api.Http;
using Microsoft.AspNetCore.Http;

namespace IronAuth.Api.Endpoints;

/// <summary>The OpenAPI document, served the same way by every host.</summary>
public static class OpenApiEndpoints
{
    public static async Task<IResult> Document(HttpRequest request) =>
        TypedResults.Text(await ApiDocument.GetJsonAsync(request.HttpContext.RequestAborted), "application/json; charset=utf-8");
}
