using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;

namespace IronAuth.Api.Http;

/// <summary>
/// The OpenAPI document of <see cref="IronAuthRoutes.All"/>, produced by Microsoft.AspNetCore.OpenApi from the
/// endpoint metadata the route table declares. That generator describes the endpoints of an ASP.NET Core
/// application, and the Functions host has none of its own (each operation is a function; the worker's
/// pipeline cannot be given endpoints), so neither host describes itself: the document comes from a private
/// application that maps the same table and never listens, built once per process on first request. Both
/// hosts therefore serve the same document, byte for byte.
/// </summary>
internal static class ApiDocument
{
    private const string DocumentName = "v1";

    private static readonly Lazy<Task<string>> Json = new(GenerateAsync);

    public static Task<string> GetJsonAsync(CancellationToken cancellationToken) => Json.Value.WaitAsync(cancellationToken);

    private static async Task<string> GenerateAsync()
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = typeof(ApiDocument).Assembly.GetName().Name });
        builder.Services.AddRouting();
        builder.Services.AddSingleton<IServer, NoServer>();
        builder.Services.ConfigureHttpJsonOptions(o => ApiJson.Configure(o.SerializerOptions));
        builder.Services.AddOpenApi(DocumentName, o =>
        {
            o.AddDocumentTransformer(ApiDocumentTransforms.DocumentAsync);
            o.AddOperationTransformer(ApiDocumentTransforms.OperationAsync);
            o.AddSchemaTransformer(ApiDocumentTransforms.SchemaAsync);
        });

        await using var app = builder.Build();
        app.MapIronAuthApi();
        // Starting builds the request pipeline, which is what hands the mapped endpoints to the API explorer.
        await app.StartAsync();
        try
        {
            var document = await app.Services.GetRequiredKeyedService<IOpenApiDocumentProvider>(DocumentName).GetOpenApiDocumentAsync();
            return await document.SerializeAsJsonAsync(OpenApiSpecVersion.OpenApi3_1);
        }
        finally
        {
            await app.StopAsync();
        }
    }

    /// <summary>A server that accepts no connections: the description application only needs its endpoints built.</summary>
    private sealed class NoServer : IServer
    {
        public IFeatureCollection Features { get; } = new FeatureCollection();

        public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken)
            where TContext : notnull => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public void Dispose()
        {
        }
    }
}
