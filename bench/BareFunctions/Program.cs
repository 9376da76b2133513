using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

var builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();
// The same quiet framework logging as IronAuth.Functions, so both pay the same for it.
builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
await builder.Build().RunAsync();

namespace BareFunctions
{
    public static class MeFunction
    {
        [Function("Me")]
        public static IResult Run([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "auth/me")] HttpRequest req) =>
            Results.Ok(new { user = "bare" });
    }
}
