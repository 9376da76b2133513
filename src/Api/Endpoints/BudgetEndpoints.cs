using IronAuth.Api.Contracts;
using IronAuth.Api.Http;
using IronAuth.Core;
using IronAuth.Core.Budgets;
using IronAuth.Core.Users;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace IronAuth.Api.Endpoints;

/// <summary>
/// Agent budgets: management by people and API tokens (budgets:read / budgets:write), and the budget protocol spoken by
/// runtimes with an IC token as bearer (handshake, report, refresh, close). docs/budgets.md describes both.
/// </summary>
public static class BudgetEndpoints
{
    public static async Task<IResult> Create(HttpRequest request)
    {
        var (caller, denied) = await request.AuthenticateAsync();
        if (denied is not null)
        {
            return denied;
        }

        var (body, problem) = await JsonBody.ReadAsync<CreateBudgetRequest>(request);
        if (problem is not null)
        {
            return problem;
        }

        var context = request.HttpContext;
        var ownerId = body!.UserId ?? caller!.UserId;
        if (caller!.Require(Permissions.BudgetsWrite, ownerId) is { } forbidden)
        {
            return Problems.For(context, forbidden);
        }

        var manager = Manager(context);
        var result = await manager.CreateAsync(
            caller.ToActor(request.ClientIp()), new NewBudget(ownerId, body.Name, body.Allocation, body.LlmTokens, body.ExpiresInHours), context.RequestAborted);
        return result.Failure is { } failure
            ? Problems.For(context, failure)
            : TypedResults.Created($"/api/budgets/{result.Value!.Id}", await ResponseAsync(context, result.Value));
    }

    public static async Task<IResult> List(HttpRequest request)
    {
        var (caller, denied) = await request.AuthenticateAsync();
        if (denied is not null)
        {
            return denied;
        }

        var context = request.HttpContext;
        if (!Paging.TryRead(request, out var limit, out var position, out var problem))
        {
            return problem!;
        }

        // Admins and viewers list everyone's budgets (optionally one user's); a user lists its own.
        var (userId, forbidden) = caller!.ListScope(Permissions.BudgetsRead, request.Query["user_id"].ToString() is { Length: > 0 } filter ? filter : null);
        if (forbidden is not null)
        {
            return Problems.For(context, forbidden);
        }

        var page = await Manager(context).ListAsync(userId, position, limit, context.RequestAborted);
        var items = await Task.WhenAll(page.Items.Select(b => ResponseAsync(context, b)));
        return TypedResults.Ok(new PageResponse<BudgetResponse>(items, Paging.NextCursor(page.Next)));
    }

    public static Task<IResult> Get(HttpRequest request, string id) =>
        WithBudgetAsync(request, id, Permissions.BudgetsRead, async (_, budget, context) => TypedResults.Ok(await ResponseAsync(context, budget)));

    /// <summary>The share of the allocation spent and its risk level; the same permission as reading the budget.</summary>
    public static Task<IResult> Status(HttpRequest request, string id) =>
        WithBudgetAsync(request, id, Permissions.BudgetsRead, (_, budget, context) => Task.FromResult<IResult>(
            TypedResults.Ok(BudgetStatusResponse.From(budget, context.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow()))));

    public static Task<IResult> Update(HttpRequest request, string id) =>
        WithBudgetAsync(request, id, Permissions.BudgetsWrite, async (caller, budget, context) =>
        {
            if (AdminOnly(caller, "change a budget's allocation") is { } forbidden)
            {
                return Problems.For(context, forbidden);
            }

            var (body, problem) = await JsonBody.ReadAsync<UpdateBudgetRequest>(request);
            if (problem is not null)
            {
                return problem;
            }

            if (body!.Allocation is not { } allocation)
            {
                return TypedResults.Ok(await ResponseAsync(context, budget));
            }

            var result = await Manager(context).SetAllocationAsync(caller.ToActor(request.ClientIp()), budget, allocation, context.RequestAborted);
            return result.Failure is { } failure ? Problems.For(context, failure) : TypedResults.Ok(await ResponseAsync(context, result.Value!));
        });

    public static Task<IResult> Revoke(HttpRequest request, string id) =>
        WithBudgetAsync(request, id, Permissions.BudgetsWrite, async (caller, budget, context) =>
        {
            await Manager(context).RevokeAsync(caller.ToActor(request.ClientIp()), budget, context.RequestAborted);
            return TypedResults.NoContent();
        });

    public static Task<IResult> SetProviderCredential(HttpRequest request, string id) =>
        WithBudgetAsync(request, id, Permissions.BudgetsWrite, async (caller, budget, context) =>
        {
            if (AdminOnly(caller, "attach a provider credential") is { } forbidden)
            {
                return Problems.For(context, forbidden);
            }

            var (body, problem) = await JsonBody.ReadAsync<SetProviderCredentialRequest>(request);
            if (problem is not null)
            {
                return problem;
            }

            var failure = await Manager(context).SetCredentialAsync(caller.ToActor(request.ClientIp()), budget, body!.Provider, body.Secret, context.RequestAborted);
            return failure is null ? TypedResults.NoContent() : Problems.For(context, failure);
        });

    public static Task<IResult> MintIcToken(HttpRequest request, string id) =>
        WithBudgetAsync(request, id, Permissions.BudgetsWrite, async (caller, budget, context) =>
        {
            var (body, problem) = await JsonBody.ReadAsync<MintIcTokenRequest>(request);
            if (problem is not null)
            {
                return problem;
            }

            var result = await Manager(context).MintAsync(
                caller.ToActor(request.ClientIp()), budget, body!.AgentId, body.Permissions, body.ExpiresInHours, context.RequestAborted);
            return result.ToHttp(context, minted => TypedResults.Created(
                $"/api/budgets/{budget.Id}/ic-tokens/{minted.Jti}",
                new MintedIcTokenResponse(minted.Token, minted.ExpiresAt, minted.Jti, body.AgentId, budget.Id)));
        });

    public static Task<IResult> RevokeIcToken(HttpRequest request, string id, string jti) =>
        WithBudgetAsync(request, id, Permissions.BudgetsWrite, async (caller, budget, context) =>
        {
            var failure = await Manager(context).RevokeIcTokenAsync(caller.ToActor(request.ClientIp()), budget, jti, context.RequestAborted);
            return failure is null ? TypedResults.NoContent() : Problems.For(context, failure);
        });

    public static async Task<IResult> Handshake(HttpRequest request)
    {
        var (claims, denied) = await AuthenticateIcAsync(request);
        if (denied is not null)
        {
            return denied;
        }

        var (body, problem) = await JsonBody.ReadAsync<HandshakeRequest>(request);
        if (problem is not null)
        {
            return problem;
        }

        var context = request.HttpContext;
        var result = await Manager(context).HandshakeAsync(claims!, body!.RequestedBudget, request.ClientIp(), context.RequestAborted);
        return result.ToHttp(context, h => TypedResults.Ok(
            new HandshakeResponse(h.Lease.Id, h.Granted, h.Remaining, h.Lease.ExpiresAt, h.Partial, h.Provider, h.IpToken)));
    }

    public static async Task<IResult> Report(HttpRequest request)
    {
        var (claims, denied) = await AuthenticateIcAsync(request);
        if (denied is not null)
        {
            return denied;
        }

        var (body, problem) = await JsonBody.ReadAsync<BudgetReportRequest>(request);
        if (problem is not null)
        {
            return problem;
        }

        var context = request.HttpContext;
        var result = await Manager(context).ReportAsync(claims!, body!.LeaseId, body.ReportId, body.Tokens, body.Cost, context.RequestAborted);
        return result.ToHttp(context, r => TypedResults.Ok(new BudgetReportResponse(r.LeaseRemaining, r.BudgetRemaining, r.Overrun, r.Duplicate)));
    }

    public static async Task<IResult> Refresh(HttpRequest request)
    {
        var (claims, denied) = await AuthenticateIcAsync(request);
        if (denied is not null)
        {
            return denied;
        }

        var (body, problem) = await JsonBody.ReadAsync<BudgetRefreshRequest>(request);
        if (problem is not null)
        {
            return problem;
        }

        var context = request.HttpContext;
        var result = await Manager(context).RefreshAsync(claims!, body!.LeaseId, body.RequestedBudget, request.ClientIp(), context.RequestAborted);
        return result.ToHttp(context, r => TypedResults.Ok(
            new BudgetRefreshResponse(r.Lease.Id, r.Granted, r.Carried, r.Remaining, r.Lease.ExpiresAt, r.Partial)));
    }

    public static async Task<IResult> CloseLease(HttpRequest request, string id)
    {
        var (claims, denied) = await AuthenticateIcAsync(request);
        if (denied is not null)
        {
            return denied;
        }

        var context = request.HttpContext;
        var result = await Manager(context).CloseAsync(claims!, id, request.ClientIp(), context.RequestAborted);
        return result.ToHttp(context, c => TypedResults.Ok(new CloseLeaseResponse(c.Returned, c.BudgetRemaining)));
    }

    /// <summary>
    /// The IC token from <c>Authorization: Bearer</c>: signature, <c>typ</c> ic+jwt, issuer, audience and lifetime. An
    /// access JWT (at+jwt) or an API token is refused here, as an IC token is everywhere else (RFC 8725 §3.11).
    /// </summary>
    private static async Task<(IcTokenClaims? Claims, IResult? Problem)> AuthenticateIcAsync(HttpRequest request)
    {
        var context = request.HttpContext;
        var header = request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        var token = header.Length > scheme.Length && header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) ? header[scheme.Length..].Trim() : "";
        if (token.Length is 0 or > 8192)
        {
            return (null, Problems.For(context, BudgetManager.InvalidIcToken));
        }

        var verdict = await context.RequestServices.GetRequiredService<IcTokens>().ValidateAsync(token);
        return verdict.Refusal == BudgetRefusal.None
            ? (verdict.Claims, null)
            : (null, Problems.For(context, BudgetManager.FailureOf(verdict.Refusal)));
    }

    private static BudgetManager Manager(HttpContext context) => context.RequestServices.GetRequiredService<BudgetManager>();

    private static Failure? AdminOnly(Caller caller, string what) =>
        caller.Role == Role.Admin ? null : Failure.Forbidden($"Only an admin may {what}.");

    private static async Task<BudgetResponse> ResponseAsync(HttpContext context, Budget budget) =>
        BudgetResponse.From(
            await Manager(context).ViewAsync(budget, context.RequestAborted), context.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow());

    /// <summary>Authenticates, loads the budget (404 if unknown), and requires the permission over its owner.</summary>
    private static async Task<IResult> WithBudgetAsync(
        HttpRequest request, string id, string permission, Func<Caller, Budget, HttpContext, Task<IResult>> action)
    {
        var (caller, denied) = await request.AuthenticateAsync();
        if (denied is not null)
        {
            return denied;
        }

        var context = request.HttpContext;
        var found = await Manager(context).GetAsync(id, context.RequestAborted);
        if (found.Failure is { } missing)
        {
            return Problems.For(context, missing);
        }

        if (caller!.Require(permission, found.Value!.UserId) is { } forbidden)
        {
            return Problems.For(context, forbidden);
        }

        return await action(caller, found.Value, context);
    }
}
