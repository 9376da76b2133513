using IronAuth.Core;
using IronAuth.Core.Sessions;
using IronAuth.Core.Tokens;
using IronAuth.Core.Users;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace IronAuth.Api.Http;

/// <summary>Authenticates <c>Authorization: Bearer …</c>: an access JWT or (prefix <c>iron_</c>) an API token.</summary>
public static class Authentication
{
    private static readonly Failure Missing =
        new(FailureKind.Unauthorized, "missing_credentials", "Send an access token or API token as 'Authorization: Bearer <token>'.");

    /// <summary>The caller, or a problem response to return as is.</summary>
    public static async ValueTask<(Caller? Caller, IResult? Problem)> AuthenticateAsync(this HttpRequest request)
    {
        var (caller, unused, problem) = await request.AuthenticateUnusedAsync();
        return unused is null ? (caller, problem) : await request.UseAsync(unused);
    }

    /// <summary>
    /// The caller, or a problem response to return as is; for a valid API token, also its check, not yet used: the
    /// endpoint must use it (<see cref="UseAsync"/>, or with the token it verifies: <see cref="TokenVerifier.VerifyForAsync"/>)
    /// before it answers, so that every request counts against the token's limits.
    /// </summary>
    public static async ValueTask<(Caller? Caller, TokenCheck? Unused, IResult? Problem)> AuthenticateUnusedAsync(this HttpRequest request)
    {
        var context = request.HttpContext;
        if (!TryGetBearer(request, out var token))
        {
            return (null, null, Problems.For(context, Missing));
        }

        if (token.Span.StartsWith(ApiTokenFormat.Prefix, StringComparison.Ordinal))
        {
            var check = await context.RequestServices.GetRequiredService<TokenVerifier>().CheckAsync(token.ToString(), context.RequestAborted);
            return check.Refusal is null
                ? (new Caller(check.Owner!, AuthMethod.ApiToken, check.Scopes!, null, check.Token!.Id), check, null)
                : (null, null, (await request.UseAsync(check)).Problem);
        }

        var result = await context.RequestServices.GetRequiredService<SignInManager>().AuthenticateAsync(token, context.RequestAborted);
        return result.Failure is { } failure ? (null, null, Problems.For(context, failure)) : (result.Value, null, null);
    }

    /// <summary>The use of the API token that authenticated this request (<see cref="AuthenticateUnusedAsync"/>).</summary>
    public static async ValueTask<(Caller? Caller, IResult? Problem)> UseAsync(this HttpRequest request, TokenCheck check)
    {
        var context = request.HttpContext;
        return request.Answer(await context.RequestServices.GetRequiredService<TokenVerifier>().UseAsync(check, context.RequestAborted));
    }

    /// <summary>The answer to a request authenticated by an API token with this verdict: its rate-limit headers, and a problem when refused.</summary>
    public static (Caller? Caller, IResult? Problem) Answer(this HttpRequest request, TokenVerdict verdict)
    {
        var context = request.HttpContext;
        RateLimitHeaders.Write(context.Response, verdict);
        return verdict.IsValid
            ? (CallerOf(verdict), null)
            : (null, Problems.For(context, verdict.ToFailure(context.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow())));
    }

    /// <summary>
    /// Authenticates and requires <paramref name="permission"/> over the data of <paramref name="ownerId"/>
    /// (null: over everyone's). The caller, or a problem response to return as is.
    /// </summary>
    public static async ValueTask<(Caller? Caller, IResult? Problem)> AuthorizeAsync(this HttpRequest request, string permission, string? ownerId = null)
    {
        var (caller, problem) = await request.AuthenticateAsync();
        if (problem is not null)
        {
            return (null, problem);
        }

        return caller!.Require(permission, ownerId) is { } forbidden ? (null, Problems.For(request.HttpContext, forbidden)) : (caller, null);
    }

    /// <summary>The caller a valid API token stands for: its owner, narrowed to the token's effective scopes.</summary>
    public static Caller CallerOf(TokenVerdict verdict) =>
        new(verdict.Owner!, AuthMethod.ApiToken, verdict.Scopes!, null, verdict.Token!.Id);

    public static string? ClientIp(this HttpRequest request) => request.HttpContext.Connection.RemoteIpAddress?.ToString();

    // The token as a slice of the header: an access JWT (about a kilobyte) is looked up without being copied out.
    private static bool TryGetBearer(HttpRequest request, out ReadOnlyMemory<char> token)
    {
        token = default;
        var header = request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (header.Length <= scheme.Length || !header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        token = header.AsMemory(scheme.Length).Trim();
        return token.Length is > 0 and < 8192;
    }
}
