using IronAuth.Core;
using IronAuth.Core.Sessions;
using IronAuth.Core.Users;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace IronAuth.Api.Http;

/// <summary>Authenticates <c>Authorization: Bearer …</c>: an access JWT or (prefix <c>iron_</c>) an API token.</summary>
public static class Authentication
{
    public const string ApiTokenPrefix = "iron_";

    private static readonly Failure Missing =
        new(FailureKind.Unauthorized, "missing_credentials", "Send an access token or API token as 'Authorization: Bearer <token>'.");

    private static readonly Failure ApiTokensUnavailable =
        new(FailureKind.Unauthorized, "invalid_token", "API tokens are not accepted by this server.");

    /// <summary>The caller, or a problem response to return as is.</summary>
    public static async Task<(Caller? Caller, IResult? Problem)> AuthenticateAsync(this HttpRequest request)
    {
        var context = request.HttpContext;
        if (!TryGetBearer(request, out var token))
        {
            return (null, Problems.For(context, Missing));
        }

        if (token.StartsWith(ApiTokenPrefix, StringComparison.Ordinal))
        {
            return (null, Problems.For(context, ApiTokensUnavailable));
        }

        var result = await context.RequestServices.GetRequiredService<SignInManager>().AuthenticateAsync(token, context.RequestAborted);
        return result.Failure is { } failure ? (null, Problems.For(context, failure)) : (result.Value, null);
    }

    public static string? ClientIp(this HttpRequest request) => request.HttpContext.Connection.RemoteIpAddress?.ToString();

    private static bool TryGetBearer(HttpRequest request, out string token)
    {
        token = "";
        var header = request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (header.Length <= scheme.Length || !header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        token = header[scheme.Length..].Trim();
        return token.Length is > 0 and < 8192;
    }
}
