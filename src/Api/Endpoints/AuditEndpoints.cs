using IronAuth.Api.Contracts;
using IronAuth.Api.Http;
using IronAuth.Core;
using IronAuth.Core.Audit;
using IronAuth.Core.Users;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace IronAuth.Api.Endpoints;

/// <summary>The audit log, newest first.</summary>
public static class AuditEndpoints
{
    /// <summary>All entries for admins and viewers; a user sees the entries it made or that concern it.</summary>
    public static async Task<IResult> List(HttpRequest request)
    {
        var (caller, denied) = await request.AuthenticateAsync();
        if (denied is not null)
        {
            return denied;
        }

        var everything = caller!.Require(Permissions.AuditRead) is null;
        return await ListAsync(request, caller, everything ? null : caller.UserId);
    }

    public static async Task<IResult> ListForUser(HttpRequest request, string id)
    {
        var (caller, denied) = await request.AuthenticateAsync();
        if (denied is not null)
        {
            return denied;
        }

        return await ListAsync(request, caller!, id);
    }

    private static async Task<IResult> ListAsync(HttpRequest request, Caller caller, string? userId)
    {
        var context = request.HttpContext;
        if (caller.Require(Permissions.AuditRead, userId) is { } forbidden)
        {
            return Problems.For(context, forbidden);
        }

        if (userId is not null && !Ids.IsWellFormed(userId))
        {
            return Problems.For(context, Failure.NotFound("User"));
        }

        if (!Paging.TryRead(request, out var limit, out var position, out var problem))
        {
            return problem!;
        }

        var audit = context.RequestServices.GetRequiredService<IAuditStore>();
        var page = await audit.ListAsync(userId, position, limit, context.RequestAborted);
        return TypedResults.Ok(new PageResponse<AuditEntryResponse>([.. page.Items.Select(AuditEntryResponse.From)], Paging.NextCursor(page.Next)));
    }
}
