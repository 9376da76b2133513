using System.Globalization;
using IronAuth.Api.Contracts;
using IronAuth.Api.Http;
using IronAuth.Core.Analytics;
using IronAuth.Core.Users;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace IronAuth.Api.Endpoints;

/// <summary>Spending analytics: usage across tokens, summed by token, user, model or provider; or budget spend, by agent or budget.</summary>
public static class UsageEndpoints
{
    public static readonly string[] Groups = ["token", "user", "model", "provider", "agent", "budget"];

    /// <summary>
    /// Admins and viewers see everyone's usage (optionally one user's, <c>user_id</c>); a user sees its own. Read
    /// access to tokens is the permission: usage is what tokens did. Grouped by agent or budget it is budget spend, so read
    /// access to budgets is the permission instead, with the same scoping (a user sees only its own budgets).
    /// </summary>
    public static async Task<IResult> Report(HttpRequest request)
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

        var offset = 0;
        if (position is not null && (!int.TryParse(position, NumberStyles.None, CultureInfo.InvariantCulture, out offset) || offset < 0))
        {
            return Problems.Validation("cursor is not one this server issued; pass back next_cursor unchanged.");
        }

        var rawGroup = Optional(request, "group_by") ?? "token";
        if (!SpendingAnalytics.TryParseGroup(rawGroup, out var group))
        {
            return Problems.Validation($"group_by must be one of {string.Join(", ", Groups)}.");
        }

        var analytics = context.RequestServices.GetRequiredService<SpendingAnalytics>();
        var range = analytics.Range(Optional(request, "period"), Optional(request, "from"), Optional(request, "to"));
        if (range.Failure is { } badRange)
        {
            return Problems.For(context, badRange);
        }

        var permission = group is SpendingGroup.Agent or SpendingGroup.Budget ? Permissions.BudgetsRead : Permissions.TokensRead;
        var (userId, forbidden) = caller!.ListScope(permission, Optional(request, "user_id"));
        if (forbidden is not null)
        {
            return Problems.For(context, forbidden);
        }

        var (from, to) = range.Value;
        var report = await analytics.ReportAsync(new SpendingQuery(from, to, group, userId, offset, limit), context.RequestAborted);
        var next = report.NextOffset is { } n ? Paging.NextCursor(n.ToString(CultureInfo.InvariantCulture)) : null;
        return TypedResults.Ok(SpendingReportResponse.Of(report, next));
    }

    private static string? Optional(HttpRequest request, string name) =>
        request.Query[name].ToString() is { Length: > 0 } value ? value : null;
}
