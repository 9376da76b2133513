using System.Net.Http.Headers;
using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;

namespace IronAuth.Tests.Support;

/// <summary>
/// A service that trusts IronAuth the way Microsoft's docs say: JwtBearer with Authority and Audience, nothing else.
/// <c>GET /whoami</c> answers the token's claims, one <c>type=value</c> a line. It checks lifetimes on the machine's
/// clock, so the IronAuth server it trusts should start its fake clock at the real time.
/// </summary>
internal sealed class ResourceServer(WebApplication app, Uri address) : IAsyncDisposable
{
    public static async Task<ResourceServer> StartAsync(string authority)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddAuthentication().AddJwtBearer(o =>
        {
            o.Authority = authority;
            o.Audience = "ironauth";
            // The test's IronAuth listens on plain http (loopback); a deployment's issuer is https.
            o.RequireHttpsMetadata = false;
        });
        builder.Services.AddAuthorization();
        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapGet("/whoami", (ClaimsPrincipal user) => string.Concat(user.Claims.Select(c => $"{c.Type}={c.Value}\n"))).RequireAuthorization();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        return new ResourceServer(app, new Uri(address + "/"));
    }

    public HttpClient Client(string bearer) => new()
    {
        BaseAddress = address,
        DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", bearer) },
    };

    public ValueTask DisposeAsync() => app.DisposeAsync();
}
