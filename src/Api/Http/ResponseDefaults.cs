using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace IronAuth.Api.Http;

/// <summary>
/// Headers every response of the API carries, whichever host serves it and whoever writes the response (a handler,
/// a problem, the framework's 404 or 500): <c>X-Content-Type-Options: nosniff</c>, so a browser never runs a JSON
/// body as something else, and <c>Cache-Control: no-store</c> unless the handler chose a policy itself (JWKS is
/// public and cacheable) — users, tokens, audit entries and usage are personal data that no cache may keep.
/// </summary>
public static class ResponseDefaults
{
    /// <summary>Call once per request, before anything is written.</summary>
    public static void Register(HttpResponse response) => response.OnStarting(Apply, response);

    private static Task Apply(object state)
    {
        var headers = ((HttpResponse)state).Headers;
        headers.XContentTypeOptions = "nosniff";
        if (!headers.ContainsKey(HeaderNames.CacheControl))
        {
            headers.CacheControl = "no-store";
        }

        return Task.CompletedTask;
    }
}
