var builder = WebApplication.CreateSlimBuilder(args);
if (string.IsNullOrEmpty(builder.Configuration[WebHostDefaults.ServerUrlsKey]))
{
    builder.WebHost.UseUrls("http://127.0.0.1:7072");
}

// The same runtime settings as the IronAuth server: quiet framework logs, no Server header.
builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
builder.WebHost.ConfigureKestrel(kestrel => kestrel.AddServerHeader = false);

var app = builder.Build();
app.MapGet("/api/health", () => TypedResults.Ok(new Health("ok", "none", "baseline")));
await app.RunAsync();

internal sealed record Health(string Status, string Store, string Version);
