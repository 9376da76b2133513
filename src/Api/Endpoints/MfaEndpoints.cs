using IronAuth.Api.Contracts;
using IronAuth.Api.Http;
using IronAuth.Core;
using IronAuth.Core.Mfa;
using IronAuth.Core.Sessions;
using IronAuth.Core.Users;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace IronAuth.Api.Endpoints;

/// <summary>TOTP two-factor sign-in: enrol, confirm, turn off, complete a sign-in, and the admin's reset.</summary>
public static class MfaEndpoints
{
    public static Task<IResult> BeginTotp(HttpRequest request) =>
        SessionActionAsync<TotpBeginRequest, TotpSetup>(request, (mfa, caller, body, actor, ct) => mfa.BeginAsync(actor, caller.User, body.CurrentPassword, ct),
            setup => TypedResults.Ok(new TotpSetupResponse(setup.Secret, setup.OtpauthUri, setup.QrSvg)));

    public static Task<IResult> ConfirmTotp(HttpRequest request) =>
        SessionActionAsync<MfaCodeRequest, IReadOnlyList<string>>(request, (mfa, caller, body, actor, ct) => mfa.ConfirmAsync(actor, caller.User, body.Code, ct),
            codes => TypedResults.Ok(new RecoveryCodesResponse(codes)));

    public static Task<IResult> DisableTotp(HttpRequest request) =>
        SessionActionAsync<MfaCodeRequest, bool>(request, (mfa, caller, body, actor, ct) => mfa.DisableAsync(actor, caller.User, body.Code, ct),
            _ => TypedResults.NoContent());

    public static async Task<IResult> Verify(HttpRequest request)
    {
        var (body, problem) = await JsonBody.ReadAsync<MfaVerifyRequest>(request);
        if (problem is not null)
        {
            return problem;
        }

        var context = request.HttpContext;
        var signIns = context.RequestServices.GetRequiredService<SignInManager>();
        var result = await signIns.CompleteMfaAsync(body!.MfaToken, body.Code, request.ClientIp(), context.RequestAborted);
        return result.ToHttp(context, signIn =>
        {
            // RFC 6749 §5.1: responses carrying tokens must not be cached.
            context.Response.Headers.CacheControl = "no-store";
            return TypedResults.Ok(TokenResponse.From(signIn, context.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow()));
        });
    }

    public static async Task<IResult> Reset(HttpRequest request, string id)
    {
        var (caller, denied) = await request.AuthorizeAsync(Permissions.UsersWrite);
        if (denied is not null)
        {
            return denied;
        }

        var context = request.HttpContext;
        var result = await context.RequestServices.GetRequiredService<MfaManager>()
            .ResetAsync(caller!.ToActor(request.ClientIp()), id, context.RequestAborted);
        return result.ToHttp(context, _ => TypedResults.NoContent());
    }

    /// <summary>
    /// Only a signed-in session manages its own second factor: an API token acting for the user must not be able to
    /// enrol an authenticator of its holder's, or turn the owner's off.
    /// </summary>
    private static async Task<IResult> SessionActionAsync<TBody, T>(
        HttpRequest request, Func<MfaManager, Caller, TBody, Actor, CancellationToken, Task<Result<T>>> action, Func<T, IResult> ok)
        where TBody : class
    {
        var (caller, denied) = await request.AuthenticateAsync();
        if (denied is not null)
        {
            return denied;
        }

        if (caller!.SessionId is null)
        {
            return Problems.Create(StatusCodes.Status403Forbidden, "forbidden", "Two-factor sign-in is managed from a signed-in session, not with an API token.");
        }

        var (body, problem) = await JsonBody.ReadAsync<TBody>(request);
        if (problem is not null)
        {
            return problem;
        }

        var context = request.HttpContext;
        context.Response.Headers.CacheControl = "no-store";
        var result = await action(
            context.RequestServices.GetRequiredService<MfaManager>(), caller, body!, caller.ToActor(request.ClientIp()), context.RequestAborted);
        return result.ToHttp(context, ok);
    }
}
