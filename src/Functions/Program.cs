using IronAuth.Functions;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

var builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();
// Around every HTTP function, as the server's pipeline: response defaults, the start-up gate, unhandled exceptions as problems.
builder.UseMiddleware(ApiMiddleware.InvokeAsync);

// Quiet framework logging in code, as the server does: without it ASP.NET Core logs every request at Information.
builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);

// The same registrations as the self-hosted server, less its maintenance scheduler: the Maintenance timer runs the job here.
builder.Services.AddIronAuthApi();
builder.Services.AddIronAuthStore(builder.Configuration);
// --- ops/usage (issue 19): metrics and traces to Application Insights when its connection string is set.
builder.Services.AddIronAuthApplicationInsights(builder.Configuration);
// --- end ops/usage

await builder.Build().RunAsync();
