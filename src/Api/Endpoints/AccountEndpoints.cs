using IronAuth.Api.Contracts;
using IronAuth.Api.Http;
using IronAuth.Core.Accounts;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace IronAuth.Api.Endpoints;

/// <summary>Self-service accounts: sign-up, email verification and reset by email (off unless IronAuth:Registration:Enabled).</summary>
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
