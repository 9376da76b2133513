using IronAuth.Core.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace IronAuth.Api.Http;

/// <summary>
/// Holds every request but health until start-up has settled the schema and the bootstrap admin
/// (<see cref="Readiness.Started"/>). The self-hosted server finishes start-up before it listens, so there this never
/// waits; the Functions host routes requests as soon as the worker has loaded its functions, which on a fresh store came a
/// few hundred milliseconds before the bootstrap admin existed, and a sign-in then was refused as if the password were
/// wrong. A request waits up to <see cref="MaxWait"/> for start-up, then gets 503 <c>starting</c> with <c>Retry-After</c>.
/// </summary>
public static class StartupGate
{
    public const string RetryAfterSeconds = "1";

    /// <summary>Long enough for a first start on an empty store (schema, one bcrypt hash), short of clients' timeouts.</summary>
    public static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(30);

    /// <summary>Null when the request may go ahead (now, or after waiting); otherwise the 503 to answer with.</summary>
    public static async Task<IResult?> WaitAsync(HttpContext context, TimeSpan? maxWait = null)
    {
        var started = context.RequestServices.GetRequiredService<Readiness>().Started;
        if (started.IsCompleted || IsHealth(context.Request.Path))
        {
            return null;
        }

        try
        {
            await started.WaitAsync(maxWait ?? MaxWait, context.RequestAborted);
            return null;
        }
        catch (TimeoutException)
        {
            context.Response.Headers.RetryAfter = RetryAfterSeconds;
            return Problems.Create(StatusCodes.Status503ServiceUnavailable, "starting", "IronAuth is still starting; try again shortly.");
        }
    }

    // Health and readiness answer at once: they say "starting" / "not_ready" themselves.
    private static bool IsHealth(PathString path) =>
        path.StartsWithSegments("/" + IronAuthRoutes.Prefix + "/health", StringComparison.OrdinalIgnoreCase);
}
