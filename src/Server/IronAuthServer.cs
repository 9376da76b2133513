using IronAuth.Api.Endpoints;
using IronAuth.Api.Http;
using IronAuth.Core.Configuration;
using IronAuth.Server.Telemetry;
using Microsoft.Extensions.Options;

namespace IronAuth.Server;

/// <summary>The self-hosted server: Kestrel serving the IronAuth API over the configured store.</summary>
public static class IronAuthServer
{
    /// <summary>Where the server listens unless <c>--urls</c> or <c>ASPNETCORE_URLS</c> says otherwise: the port <c>func start</c> uses.</summary>
    public const string DefaultUrl = "http://127.0.0.1:7071";

    public static WebApplicationBuilder CreateBuilder(string[] args)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        if (string.IsNullOrEmpty(builder.Configuration[WebHostDefaults.ServerUrlsKey]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        // Quiet framework logging in code: without appsettings.json (another working directory) ASP.NET Core
        // logs every request at Information, which costs half the throughput.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // Handlers refuse bodies over 64 KiB themselves; this is the outer guard.
            kestrel.Limits.MaxRequestBodySize = 1024 * 1024;
        });

        builder.Services.AddIronAuthApi();
        builder.Services.AddIronAuthStore(builder.Configuration);
        builder.Services.AddIronAuthCors(builder.Configuration);
        builder.Services.AddIronAuthMaintenanceScheduler();
        builder.Services.AddIronAuthMetrics(builder.Configuration);
        return builder;
    }

    public static WebApplication Build(WebApplicationBuilder builder)
    {
        var app = builder.Build();
        app.Use(static (context, next) =>
        {
            ResponseDefaults.Register(context.Response);
            // Started (always, once this host listens): straight on, without an async frame per request.
            var gate = StartupGate.WaitAsync(context);
            return gate.IsCompletedSuccessfully && gate.Result is null ? next(context) : GatedAsync(context, next, gate);
        });
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseCors();
        app.MapIronAuthApi();
        // Outside /api, behind the same response defaults (nosniff, no-store) as every other answer.
        app.MapIronAuthMetrics();
        // RFC 8414 §3: authorization-server metadata sits at the host's root, the issuer's path after the well-known
        // name. The Functions host serves only under its /api prefix, so only this host can answer here.
        var issuerPath = new Uri(app.Services.GetRequiredService<IOptions<IronAuthOptions>>().Value.Jwt.Issuer).AbsolutePath.TrimEnd('/');
        app.MapGet("/.well-known/oauth-authorization-server" + issuerPath, OAuthEndpoints.Discovery);
        return app;
    }

    private static async Task GatedAsync(HttpContext context, RequestDelegate next, Task<IResult?> gate)
    {
        if (await gate is { } refusal)
        {
            await refusal.ExecuteAsync(context);
            return;
        }

        await next(context);
    }
}
