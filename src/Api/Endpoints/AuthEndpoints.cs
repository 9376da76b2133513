using IronAuth.Api.Contracts;
using IronAuth.Api.Http;
using IronAuth.Core.Hosting;
using IronAuth.Core.Sessions;
using IronAuth.Core.Signing;
using IronAuth.Core.Storage;
using IronAuth.Core.Users;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace IronAuth.Api.Endpoints;

/// <summary>Sign-in, refresh, logout, the caller, JWKS, password-reset confirmation and health.</summary>
public static class AuthEndpoints
{
    public static async Task<IResult> Login(HttpRequest request)
    {
        var (body, problem) = await JsonBody.ReadAsync<LoginRequest>(request);
        if (problem is not null)
        {
            return problem;
        }

        var context = request.HttpContext;
        var signIns = context.RequestServices.GetRequiredService<SignInManager>();
        var result = await signIns.LoginAsync(body!.Username, body.Password, request.ClientIp(), context.RequestAborted);
        return result.ToHttp(context, signIn => Tokens(context, signIn));
    }

    public static async Task<IResult> Refresh(HttpRequest request)
    {
        var (body, problem) = await JsonBody.ReadAsync<RefreshRequest>(request);
        if (problem is not null)
        {
            return problem;
        }

        var context = request.HttpContext;
        var signIns = context.RequestServices.GetRequiredService<SignInManager>();
        var result = await signIns.RefreshAsync(body!.RefreshToken, request.ClientIp(), context.RequestAborted);
        return result.ToHttp(context, signIn => Tokens(context, signIn));
    }

    public static async Task<IResult> Logout(HttpRequest request)
    {
        var (caller, denied) = await request.AuthenticateAsync();
        if (denied is not null)
        {
            return denied;
        }

        if (caller!.SessionId is null)
        {
            return Problems.Create(StatusCodes.Status400BadRequest, "not_a_session",
                "Only a signed-in session can log out; revoke an API token with DELETE /api/tokens/{id}.");
        }

        var context = request.HttpContext;
        await context.RequestServices.GetRequiredService<SignInManager>().LogoutAsync(caller, request.ClientIp(), context.RequestAborted);
        return TypedResults.NoContent();
    }

    public static async Task<IResult> Me(HttpRequest request)
    {
        var (caller, denied) = await request.AuthenticateAsync();
        if (denied is not null)
        {
            return denied;
        }

        return new GeneratedJsonResult<MeResponse>(new MeResponse(
            UserResponse.From(caller!.User),
            caller.Role.ToWire(),
            caller.Method == AuthMethod.Session ? "session" : "api_token",
            caller.Scopes.Ordered,
            caller.SessionId,
            caller.TokenId), ApiJsonContext.Default.MeResponse);
    }

    public static async Task<IResult> Jwks(HttpRequest request)
    {
        // The active key and every passive one: a token signed before a rotation still verifies until it expires.
        var set = await request.HttpContext.RequestServices.GetRequiredService<SigningKeys>().GetSetAsync();
        request.HttpContext.Response.Headers.CacheControl = "public, max-age=300";
        return TypedResults.Ok(JwksResponse.From(set.Published.Select(k => k.PublicJwk)));
    }

    public static async Task<IResult> ConfirmPasswordReset(HttpRequest request)
    {
        var (body, problem) = await JsonBody.ReadAsync<PasswordResetConfirmRequest>(request);
        if (problem is not null)
        {
            return problem;
        }

        var context = request.HttpContext;
        var users = context.RequestServices.GetRequiredService<UserManager>();
        var result = await users.ConfirmPasswordResetAsync(body!.ResetToken, body.NewPassword, request.ClientIp(), context.RequestAborted);
        return result.ToHttp(context, _ => TypedResults.NoContent());
    }

    public static async Task<IResult> Health(HttpRequest request)
    {
        var store = request.HttpContext.RequestServices.GetRequiredService<IStoreLifecycle>();
        if (!request.HttpContext.RequestServices.GetRequiredService<Readiness>().Started.IsCompleted)
        {
            // Answering "ok" here while the schema or the bootstrap admin is not settled told callers to go ahead too early.
            request.HttpContext.Response.Headers.RetryAfter = StartupGate.RetryAfterSeconds;
            return TypedResults.Json(new HealthResponse("starting", store.Name, ApiInfo.Version), ApiJson.Options, statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        var healthy = await store.IsHealthyAsync(request.HttpContext.RequestAborted);
        var body = new HealthResponse(healthy ? "ok" : "unavailable", store.Name, ApiInfo.Version);
        return healthy ? TypedResults.Ok(body) : TypedResults.Json(body, ApiJson.Options, statusCode: StatusCodes.Status503ServiceUnavailable);
    }

    /// <summary>Readiness: 200 once start-up is done and the store answers, 503 (with Retry-After) until then.</summary>
    public static async Task<IResult> Ready(HttpRequest request)
    {
        var services = request.HttpContext.RequestServices;
        var store = services.GetRequiredService<IStoreLifecycle>();
        var readiness = services.GetRequiredService<Readiness>();
        var checks = new ReadinessChecks(
            readiness.Schema, readiness.Bootstrap, await readiness.SigningKeyAsync(), await store.IsHealthyAsync(request.HttpContext.RequestAborted));
        var ready = checks is { Schema: true, Bootstrap: true, SigningKey: true, Store: true };
        var body = new ReadinessResponse(ready ? "ready" : "not_ready", store.Name, ApiInfo.Version, checks);
        if (ready)
        {
            return TypedResults.Ok(body);
        }

        request.HttpContext.Response.Headers.RetryAfter = "5";
        return TypedResults.Json(body, ApiJson.Options, statusCode: StatusCodes.Status503ServiceUnavailable);
    }

    private static IResult Tokens(HttpContext context, SignIn signIn)
    {
        // RFC 6749 §5.1: responses carrying tokens must not be cached.
        context.Response.Headers.CacheControl = "no-store";
        var now = context.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow();
        return TypedResults.Ok(TokenResponse.From(signIn, now));
    }
}
