using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace IronAuth.Api.Http;

/// <summary>Who may call an operation, as the OpenAPI document says it (the handlers decide it).</summary>
[Flags]
public enum ApiCallers
{
    /// <summary>No credentials needed.</summary>
    Anyone = 1,

    /// <summary><c>Authorization: Bearer</c> with an access JWT or an API token (the default).</summary>
    Bearer = 2,

    /// <summary>An OAuth client: an API token's id and secret by HTTP Basic (or form fields).</summary>
    Client = 4,
}

/// <summary>Endpoint metadata: the callers an operation takes.</summary>
public sealed record ApiCallersMetadata(ApiCallers Callers);

/// <summary>Endpoint metadata: a query parameter a handler reads from <see cref="HttpRequest.Query"/> itself.</summary>
public sealed record ApiQueryParameter(string Name, string Description, string Type = "string", string[]? Enum = null, int? Minimum = null, int? Maximum = null);

/// <summary>How route rows describe what the OpenAPI generator cannot see in a handler that takes the raw request.</summary>
public static class ApiDescription
{
    public static RouteHandlerBuilder Callers(this RouteHandlerBuilder builder, ApiCallers callers) =>
        builder.WithMetadata(new ApiCallersMetadata(callers));

    public static RouteHandlerBuilder Public(this RouteHandlerBuilder builder) => builder.Callers(ApiCallers.Anyone);

    public static RouteHandlerBuilder Query(this RouteHandlerBuilder builder, params ApiQueryParameter[] parameters) =>
        builder.WithMetadata([.. parameters]);

    /// <summary><c>limit</c> and <c>cursor</c>, as <see cref="Paging"/> reads them.</summary>
    public static RouteHandlerBuilder Paged(this RouteHandlerBuilder builder) => builder.Query(
        new("limit", "Items per page.", "integer", Minimum: 1, Maximum: Paging.MaxLimit),
        new("cursor", "The next_cursor of the previous page; absent for the first page."));
}
