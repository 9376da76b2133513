using IronAuth.Api.Contracts;
using IronAuth.Api.Http;
using IronAuth.Core.Accounts;
using IronAuth.Core.Federation;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace IronAuth.Api.Endpoints;

/// <summary>Self-service accounts: sign-up, email verification and reset by email (off unless IronAuth:Registration:Enabled), and federated sign-in.</summary>
public static class AccountEndpoints
{
    public static async Task<IResult> Register(HttpRequest request)
    {
        var (body, problem) = await JsonBody.ReadAsync<RegisterRequest>(request);
        if (problem is not null)
        {
            return problem;
        }

        var context = request.HttpContext;
        var accounts = context.RequestServices.GetRequiredService<AccountManager>();
        var result = await accounts.RegisterAsync(body!.Email, body.Password, body.Username, body.DisplayName, request.ClientIp(), context.RequestAborted);
        return result.ToHttp(context, user => TypedResults.Created($"/{IronAuthRoutes.Prefix}/users/{user.Id}", UserResponse.From(user)));
    }

    public static async Task<IResult> VerifyEmail(HttpRequest request)
    {
        var (body, problem) = await JsonBody.ReadAsync<VerifyEmailRequest>(request);
        if (problem is not null)
        {
            return problem;
        }

        var context = request.HttpContext;
        var accounts = context.RequestServices.GetRequiredService<AccountManager>();
        var result = await accounts.VerifyEmailAsync(body!.Email, body.Code, request.ClientIp(), context.RequestAborted);
        return result.ToHttp(context, _ => TypedResults.NoContent());
    }

    /// <summary>202 for every well-formed address, known or not: the lookup happens after the answer (see <see cref="AccountManager"/>).</summary>
    public static Task<IResult> ResendVerification(HttpRequest request) =>
        AcceptAsync(request, (accounts, email, ip, ct) => accounts.RequestVerificationAsync(email, ip, ct));

    /// <summary>202 for every well-formed address, known or not: the lookup happens after the answer (see <see cref="AccountManager"/>).</summary>
    public static Task<IResult> RequestPasswordReset(HttpRequest request) =>
        AcceptAsync(request, (accounts, email, ip, ct) => accounts.RequestPasswordResetAsync(email, ip, ct));

    /// <summary>Sign-in with an ID token from a configured OpenID provider (<see cref="FederationManager"/>).</summary>
    public static async Task<IResult> Federated(HttpRequest request)
    {
        var (body, problem) = await JsonBody.ReadAsync<FederatedSignInRequest>(request);
        if (problem is not null)
        {
            return problem;
        }

        var context = request.HttpContext;
        var federation = context.RequestServices.GetRequiredService<FederationManager>();
        var result = await federation.SignInAsync(body!.Provider, body.IdToken, request.ClientIp(), context.RequestAborted);
        return result.ToHttp(context, signIn =>
        {
            // RFC 6749 §5.1: responses carrying tokens must not be cached.
            context.Response.Headers.CacheControl = "no-store";
            return TypedResults.Ok(TokenResponse.From(signIn, context.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow()));
        });
    }

    private static async Task<IResult> AcceptAsync(
        HttpRequest request, Func<AccountManager, string, string?, CancellationToken, Task<Core.Failure?>> ask)
    {
        var (body, problem) = await JsonBody.ReadAsync<EmailRequest>(request);
        if (problem is not null)
        {
            return problem;
        }

        var context = request.HttpContext;
        var failure = await ask(context.RequestServices.GetRequiredService<AccountManager>(), body!.Email, request.ClientIp(), context.RequestAborted);
        return failure is null ? TypedResults.Accepted((string?)null) : Problems.For(context, failure);
    }
}
