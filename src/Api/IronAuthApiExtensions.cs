using IronAuth.Api;
using IronAuth.Api.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;

namespace Microsoft.Extensions.DependencyInjection;

public static class IronAuthApiExtensions
{
    /// <summary>JSON settings and problem details for the HTTP surface. Safe to call twice.</summary>
    public static IServiceCollection AddIronAuthApi(this IServiceCollection services)
    {
        services.AddIronAuthCore();
        services.ConfigureHttpJsonOptions(o => ApiJson.Configure(o.SerializerOptions));
        // Problems the framework writes itself (unknown route, wrong method or content type, unhandled
        // exception) get the same stable code and a detail, like the ones handlers write.
        services.AddProblemDetails(o => o.CustomizeProblemDetails = context =>
        {
            var problem = context.ProblemDetails;
            var status = problem.Status ?? context.HttpContext.Response.StatusCode;
            if (!problem.Extensions.ContainsKey("code"))
            {
                problem.Extensions["code"] = Problems.CodeOf(status);
            }

            problem.Detail ??= Problems.DefaultDetailOf(status);
        });
        return services;
    }

    /// <summary>CORS for the origins in <c>IronAuth:Cors:AllowedOrigins</c> (none by default).</summary>
    public static IServiceCollection AddIronAuthCors(this IServiceCollection services, IConfiguration configuration)
    {
        var origins = configuration.GetSection("IronAuth:Cors:AllowedOrigins").Get<string[]>() ?? [];
        services.AddCors(o => o.AddDefaultPolicy(p =>
        {
            if (origins.Length > 0)
            {
                p.WithOrigins(origins).AllowAnyHeader().AllowAnyMethod()
                    .WithExposedHeaders(
                        "Retry-After", "RateLimit-Policy", "RateLimit", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset",
                        "Location", "WWW-Authenticate");
            }
        }));
        return services;
    }

    /// <summary>Maps every route of <see cref="IronAuthRoutes.All"/> under <c>/api</c>, the OpenAPI document included.</summary>
    public static IEndpointRouteBuilder MapIronAuthApi(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/" + IronAuthRoutes.Prefix);
        foreach (var route in IronAuthRoutes.All)
        {
            var builder = api.MapMethods("/" + route.Route, [route.Method], route.Handler)
                .WithName(route.Name)
                .WithSummary(route.Summary)
                .WithTags(ApiDocumentTransforms.TagOf(route));
            route.Describe(builder);
        }
        return endpoints;
    }
}
