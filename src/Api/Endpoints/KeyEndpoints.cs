using IronAuth.Api.Contracts;
using IronAuth.Api.Http;
using IronAuth.Core;
using IronAuth.Core.Signing;
using IronAuth.Core.Users;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace IronAuth.Api.Endpoints;

/// <summary>The JWT signing keys: list them and rotate the active one (admin).</summary>
public static class KeyEndpoints
{
    public static async Task<IResult> List(HttpRequest request)
    {
        var (_, denied) = await AuthorizeAdminAsync(request);
        if (denied is not null)
        {
            return denied;
        }

        var context = request.HttpContext;
        var keys = await context.RequestServices.GetRequiredService<SigningKeyManager>().ListAsync(context.RequestAborted);
        return TypedResults.Ok(new SigningKeysResponse([.. keys.Select(SigningKeyResponse.From)]));
    }

    public static async Task<IResult> Rotate(HttpRequest request)
    {
        var (caller, denied) = await AuthorizeAdminAsync(request);
        if (denied is not null)
        {
            return denied;
        }

        var context = request.HttpContext;
        var result = await context.RequestServices.GetRequiredService<SigningKeyManager>().RotateAsync(caller!.ToActor(request.ClientIp()), context.RequestAborted);
        return result.ToHttp(context, key => TypedResults.Ok(SigningKeyResponse.From(key)));
    }

    /// <summary>
    /// Keys are the whole deployment's, not any user's data, so no scope names them: only an admin with an unnarrowed
    /// credential (a session, or an API token holding every permission) may see or rotate them.
    /// </summary>
    private static async ValueTask<(Caller? Caller, IResult? Problem)> AuthorizeAdminAsync(HttpRequest request)
    {
        var (caller, denied) = await request.AuthenticateAsync();
        if (denied is not null)
        {
            return (null, denied);
        }

        if (caller!.Role != Role.Admin || Permissions.All.Any(p => !caller.Scopes.Contains(p)))
        {
            return (null, Problems.For(request.HttpContext, Failure.Forbidden("Only an admin, with a credential not narrowed by scopes, may manage signing keys.")));
        }

        return (caller, null);
    }
}
