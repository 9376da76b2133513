using System.Globalization;
using IronAuth.Api.Contracts;
using IronAuth.Api.Http;
using IronAuth.Core.Limits;
using IronAuth.Core.Tokens;
using IronAuth.Core.Users;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace IronAuth.Api.Endpoints;

/// <summary>API tokens: issue, list, read, revoke, verify for gateways, and metering.</summary>
public static class TokenEndpoints
{
    public const int DefaultHistoryDays = 7;

    public static async Task<IResult> Create(HttpRequest request)
    {
        var (caller, denied) = await request.AuthenticateAsync();
        if (denied is not null)
        {
            return denied;
        }

        var (body, problem) = await JsonBody.ReadAsync<CreateTokenRequest>(request);
        if (problem is not null)
        {
            return problem;
        }

        var context = request.HttpContext;
        var ownerId = body!.UserId ?? caller!.UserId;
        if (caller!.Require(Permissions.TokensWrite, ownerId) is { } forbidden)
        {
            return Problems.For(context, forbidden);
        }

        var manager = context.RequestServices.GetRequiredService<TokenManager>();
        var result = await manager.CreateAsync(
            caller.ToActor(request.ClientIp()),
            new NewApiToken(ownerId, body.Name, body.Scopes, body.ExpiresInDays, body.Limits?.ToLimits() ?? TokenLimits.None),
            TokenCreator.From(caller),
            context.RequestAborted);
        return result.ToHttp(context, issued =>
        {
            context.Response.Headers.CacheControl = "no-store";
            return TypedResults.Created(
                $"/api/tokens/{issued.Token.Id}",
                new CreatedTokenResponse(issued.Plaintext, issued.ExpiresInDays, issued.Clamped, issued.RevokedOthers, Metadata(context, issued.Token)));
        });
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

        // Admins and viewers list everyone's tokens (optionally one user's); a user lists its own.
        var (userId, forbidden) = caller!.ListScope(Permissions.TokensRead, request.Query["user_id"].ToString() is { Length: > 0 } filter ? filter : null);
        if (forbidden is not null)
        {
            return Problems.For(context, forbidden);
        }

        var manager = context.RequestServices.GetRequiredService<TokenManager>();
        var page = await manager.ListAsync(new ApiTokenQuery(userId, position, limit), context.RequestAborted);
        return TypedResults.Ok(new PageResponse<ApiTokenResponse>([.. page.Items.Select(t => Metadata(context, t))], Paging.NextCursor(page.Next)));
    }

    public static Task<IResult> Get(HttpRequest request, string id) =>
        WithTokenAsync(request, id, Permissions.TokensRead, (_, token, context) => Task.FromResult(TypedResults.Ok(Metadata(context, token)) as IResult));

    public static Task<IResult> Revoke(HttpRequest request, string id) =>
        WithTokenAsync(request, id, Permissions.TokensWrite, async (caller, token, context) =>
        {
            var manager = context.RequestServices.GetRequiredService<TokenManager>();
            await manager.RevokeAsync(caller.ToActor(request.ClientIp()), token, context.RequestAborted);
            return TypedResults.NoContent();
        });

    public static async Task<IResult> Verify(HttpRequest request)
    {
        // A gateway authenticated by its own API token is used together with the token it verifies, in one metering
        // step (TokenVerifier.VerifyForAsync): one wait for the store instead of two (issue 17).
        var (caller, unused, denied) = await request.AuthenticateUnusedAsync();
        if (denied is not null)
        {
            return denied;
        }

        var context = request.HttpContext;
        var (input, problem) = caller!.Require(Permissions.TokensVerify) is { } forbidden
            ? (null, Problems.For(context, forbidden))
            : await ReadVerifyAsync(request);
        if (problem is not null)
        {
            // The caller's use counts as on any other request, and its refusal (429) comes first.
            return unused is not null && (await request.UseAsync(unused)).Problem is { } refused ? refused : problem;
        }

        var (body, detail, tokens) = input!.Value;
        var verifier = context.RequestServices.GetRequiredService<TokenVerifier>();
        var cost = body.Usage?.Cost ?? 0;
        TokenVerdict verdict;
        if (unused is null)
        {
            verdict = await verifier.VerifyAsync(body.Token, tokens, cost, detail, context.RequestAborted);
        }
        else
        {
            var (own, verified) = await verifier.VerifyForAsync(unused, body.Token, tokens, cost, detail, context.RequestAborted);
            if (request.Answer(own).Problem is { } refused)
            {
                return refused;
            }

            verdict = verified!;
        }

        if (verdict.Replayed)
        {
            context.Response.Headers["Idempotent-Replayed"] = "true";
        }

        return new GeneratedJsonResult<VerifyTokenResponse>(new VerifyTokenResponse(
            verdict.IsValid,
            verdict.IsValid ? null : TokenVerdict.ToWire(verdict.Code),
            verdict.Token?.Id,
            verdict.Token?.UserId,
            verdict.Scopes?.Ordered,
            verdict.Token?.ExpiresAt,
            RateLimitHeaders.Info(verdict),
            RateLimitHeaders.Quota(verdict)), ApiJsonContext.Default.VerifyTokenResponse);
    }

    /// <summary>The verify request's body, its usage checked: the body, the usage detail and the LLM tokens it counts.</summary>
    private static async Task<((VerifyTokenRequest Body, UsageDetail? Detail, long Tokens)? Input, IResult? Problem)> ReadVerifyAsync(HttpRequest request)
    {
        var (body, problem) = await JsonBody.ReadAsync<VerifyTokenRequest>(request);
        if (problem is not null)
        {
            return (null, problem);
        }

        var usage = body!.Usage ?? new UsageReport();
        if (UsageBounds.Check(0, usage.Tokens, usage.Cost, "usage.") is { } invalid)
        {
            return (null, Problems.For(request.HttpContext, invalid));
        }

        var detailed = UsageDetail.From(UsageRequestKind.Verify, body.RequestId, usage.Model, usage.Provider, usage.InputTokens, usage.OutputTokens, usage.Tokens, "usage.");
        if (detailed.Failure is { } badDetail)
        {
            return (null, Problems.For(request.HttpContext, badDetail));
        }

        var (detail, tokens) = detailed.Value;
        return ((body, detail, tokens), null);
    }

    public static async Task<IResult> RecordUsage(HttpRequest request, string id)
    {
        var (_, denied) = await request.AuthorizeAsync(Permissions.TokensVerify);
        if (denied is not null)
        {
            return denied;
        }

        var context = request.HttpContext;
        var (body, problem) = await JsonBody.ReadAsync<RecordUsageRequest>(request);
        if (problem is not null)
        {
            return problem;
        }

        var detailed = UsageDetail.From(UsageRequestKind.Record, body!.RequestId, body.Model, body.Provider, body.InputTokens, body.OutputTokens, body.Tokens);
        if (detailed.Failure is { } badDetail)
        {
            return Problems.For(context, badDetail);
        }

        var manager = context.RequestServices.GetRequiredService<TokenManager>();
        var (detail, tokens) = detailed.Value;
        var result = await manager.RecordUsageAsync(id, body.Requests, tokens, body.Cost, detail, context.RequestAborted);
        return result.ToHttp(context, recorded => TypedResults.Ok(new RecordedUsageResponse(
            recorded.Token.Id, recorded.Exhausted != QuotaKind.None, QuotaInfo.From(recorded.Day, recorded.Quota, recorded.Exhausted))));
    }

    public static async Task<IResult> Usage(HttpRequest request, string id)
    {
        var rawDays = request.Query["days"].ToString();
        var days = DefaultHistoryDays;
        if (rawDays.Length > 0 && (!int.TryParse(rawDays, NumberStyles.None, CultureInfo.InvariantCulture, out days) || days is < 1 or > TokenManager.MaxHistoryDays))
        {
            return Problems.Validation($"days must be an integer from 1 to {TokenManager.MaxHistoryDays}.");
        }

        return await WithTokenAsync(request, id, Permissions.TokensRead, async (_, token, context) =>
        {
            var manager = context.RequestServices.GetRequiredService<TokenManager>();
            var history = await manager.HistoryAsync(token, days, context.RequestAborted);
            return TypedResults.Ok(history.Select(UsageDayResponse.From).ToList());
        });
    }

    private static ApiTokenResponse Metadata(HttpContext context, ApiToken token) =>
        ApiTokenResponse.From(token, context.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow());

    /// <summary>Authenticates, loads the token (404 if unknown), and requires the permission over its owner.</summary>
    private static async Task<IResult> WithTokenAsync(
        HttpRequest request, string id, string permission, Func<Caller, ApiToken, HttpContext, Task<IResult>> action)
    {
        var (caller, denied) = await request.AuthenticateAsync();
        if (denied is not null)
        {
            return denied;
        }

        var context = request.HttpContext;
        var found = await context.RequestServices.GetRequiredService<TokenManager>().GetAsync(id, context.RequestAborted);
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
