using IronAuth.Api.Contracts;
using IronAuth.Api.Http;
using IronAuth.Core;
using IronAuth.Core.Users;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace IronAuth.Api.Endpoints;

/// <summary>User accounts: create, read, list, profile, suspend, activate, delete, role and passwords.</summary>
public static class UserEndpoints
{
    public static async Task<IResult> Create(HttpRequest request)
    {
        var (caller, denied) = await request.AuthorizeAsync(Permissions.UsersWrite);
        if (denied is not null)
        {
            return denied;
        }

        var context = request.HttpContext;

        var (body, problem) = await JsonBody.ReadAsync<CreateUserRequest>(request);
        if (problem is not null)
        {
            return problem;
        }

        if (!RoleNames.TryParseRole(body!.Role, out var role))
        {
            return Problems.Validation("role must be one of admin, user, viewer.");
        }

        var users = context.RequestServices.GetRequiredService<UserManager>();
        var result = await users.CreateAsync(
            caller!.ToActor(request.ClientIp()),
            new NewUser(body.Username, body.Password, role, body.Email, body.DisplayName),
            context.RequestAborted);
        return result.ToHttp(context, user => TypedResults.Created($"/api/users/{user.Id}", UserResponse.From(user)));
    }

    public static async Task<IResult> List(HttpRequest request)
    {
        var (_, denied) = await request.AuthorizeAsync(Permissions.UsersRead);
        if (denied is not null)
        {
            return denied;
        }

        var context = request.HttpContext;

        if (!Paging.TryRead(request, out var limit, out var position, out var problem))
        {
            return problem!;
        }

        Role? role = null;
        UserStatus? status = null;
        var roleFilter = request.Query["role"].ToString();
        if (roleFilter.Length > 0)
        {
            if (!RoleNames.TryParseRole(roleFilter, out var parsed))
            {
                return Problems.Validation("role must be one of admin, user, viewer.");
            }

            role = parsed;
        }

        var statusFilter = request.Query["status"].ToString();
        if (statusFilter.Length > 0)
        {
            if (!RoleNames.TryParseStatus(statusFilter, out var parsed))
            {
                return Problems.Validation("status must be one of active, suspended, deleted.");
            }

            status = parsed;
        }

        var users = context.RequestServices.GetRequiredService<UserManager>();
        var page = await users.ListAsync(new UserQuery(role, status, position, limit), context.RequestAborted);
        return TypedResults.Ok(new PageResponse<UserResponse>([.. page.Items.Select(UserResponse.From)], Paging.NextCursor(page.Next)));
    }

    public static async Task<IResult> Get(HttpRequest request, string id)
    {
        var (_, denied) = await request.AuthorizeAsync(Permissions.UsersRead, id);
        if (denied is not null)
        {
            return denied;
        }

        var context = request.HttpContext;
        var result = await context.RequestServices.GetRequiredService<UserManager>().GetAsync(id, context.RequestAborted);
        return result.ToHttp(context, user => TypedResults.Ok(UserResponse.From(user)));
    }

    public static async Task<IResult> Update(HttpRequest request, string id)
    {
        var (caller, denied) = await request.AuthenticateAsync();
        if (denied is not null)
        {
            return denied;
        }

        var context = request.HttpContext;
        if ((caller!.Require(Permissions.UsersWrite, id)
             ?? (Permissions.CanEditProfile(caller.Role) ? null : Failure.Forbidden("A viewer may change only its own password."))) is { } forbidden)
        {
            return Problems.For(context, forbidden);
        }

        var (body, problem) = await JsonBody.ReadAsync<UpdateUserRequest>(request);
        if (problem is not null)
        {
            return problem;
        }

        var users = context.RequestServices.GetRequiredService<UserManager>();
        var result = await users.UpdateProfileAsync(
            caller!.ToActor(request.ClientIp()),
            id,
            new ProfileChange(body!.EmailSet, body.Email, body.DisplayNameSet, body.DisplayName, body.CurrentPassword),
            context.RequestAborted);
        return result.ToHttp(context, user => TypedResults.Ok(UserResponse.From(user)));
    }

    public static Task<IResult> Delete(HttpRequest request, string id) =>
        AdminActionAsync(request, (users, actor, ct) => users.DeleteAsync(actor, id, ct), _ => TypedResults.NoContent());

    public static async Task<IResult> Suspend(HttpRequest request, string id)
    {
        var (body, problem) = await JsonBody.ReadAsync<SuspendUserRequest>(request, optional: true);
        if (problem is not null)
        {
            return problem;
        }

        return await AdminActionAsync(request, (users, actor, ct) => users.SuspendAsync(actor, id, body?.Reason, ct), Ok);
    }

    public static Task<IResult> Activate(HttpRequest request, string id) =>
        AdminActionAsync(request, (users, actor, ct) => users.ActivateAsync(actor, id, ct), Ok);

    public static async Task<IResult> SetRole(HttpRequest request, string id)
    {
        var (body, problem) = await JsonBody.ReadAsync<SetRoleRequest>(request);
        if (problem is not null)
        {
            return problem;
        }

        if (!RoleNames.TryParseRole(body!.Role, out var role))
        {
            return Problems.Validation("role must be one of admin, user, viewer.");
        }

        return await AdminActionAsync(request, (users, actor, ct) => users.SetRoleAsync(actor, id, role, ct), Ok);
    }

    public static async Task<IResult> ChangePassword(HttpRequest request, string id)
    {
        var (caller, denied) = await request.AuthenticateAsync();
        if (denied is not null)
        {
            return denied;
        }

        var context = request.HttpContext;
        // Only the user itself changes its password here; admins issue a reset token instead.
        if ((caller!.Require(Permissions.UsersWrite, id)
             ?? (caller.UserId == id ? null : Failure.Forbidden("Only the user itself may change its password; admins issue a reset."))) is { } forbidden)
        {
            return Problems.For(context, forbidden);
        }

        var (body, problem) = await JsonBody.ReadAsync<ChangePasswordRequest>(request);
        if (problem is not null)
        {
            return problem;
        }

        var users = context.RequestServices.GetRequiredService<UserManager>();
        var result = await users.ChangePasswordAsync(
            caller!.ToActor(request.ClientIp()), id, body!.CurrentPassword, body.NewPassword, caller.SessionId, body.RevokeTokens, context.RequestAborted);
        return result.ToHttp(context, _ => TypedResults.NoContent());
    }

    public static Task<IResult> IssuePasswordReset(HttpRequest request, string id) =>
        AdminActionAsync(
            request,
            (users, actor, ct) => users.IssuePasswordResetAsync(actor, id, ct),
            reset =>
            {
                request.HttpContext.Response.Headers.CacheControl = "no-store";
                return TypedResults.Ok(new PasswordResetResponse(reset.Token, reset.ExpiresAt));
            });

    private static IResult Ok(User user) => TypedResults.Ok(UserResponse.From(user));

    /// <summary>Authenticates, requires users:write over all users (admin), runs the action.</summary>
    private static async Task<IResult> AdminActionAsync<T>(
        HttpRequest request, Func<UserManager, Actor, CancellationToken, Task<Result<T>>> action, Func<T, IResult> ok)
    {
        var (caller, denied) = await request.AuthorizeAsync(Permissions.UsersWrite);
        if (denied is not null)
        {
            return denied;
        }

        var context = request.HttpContext;

        var users = context.RequestServices.GetRequiredService<UserManager>();
        var result = await action(users, caller!.ToActor(request.ClientIp()), context.RequestAborted);
        return result.ToHttp(context, ok);
    }
}
