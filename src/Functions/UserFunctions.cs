using IronAuth.Api.Endpoints;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace IronAuth.Functions;

/// <summary>User accounts: create, list, read, update, delete, suspend, activate, role, passwords.</summary>
public static class UserFunctions
{
    [Function("CreateUser")]
    public static Task<IResult> Create(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "users")] HttpRequest req) => UserEndpoints.Create(req);

    [Function("ListUsers")]
    public static Task<IResult> List(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "users")] HttpRequest req) => UserEndpoints.List(req);

    [Function("GetUser")]
    public static Task<IResult> Get(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "users/{id}")] HttpRequest req, string id) =>
        UserEndpoints.Get(req, id);

    [Function("UpdateUser")]
    public static Task<IResult> Update(
        [HttpTrigger(AuthorizationLevel.Anonymous, "patch", Route = "users/{id}")] HttpRequest req, string id) =>
        UserEndpoints.Update(req, id);

    [Function("DeleteUser")]
    public static Task<IResult> Delete(
        [HttpTrigger(AuthorizationLevel.Anonymous, "delete", Route = "users/{id}")] HttpRequest req, string id) =>
        UserEndpoints.Delete(req, id);

    [Function("SuspendUser")]
    public static Task<IResult> Suspend(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "users/{id}/suspend")] HttpRequest req, string id) =>
        UserEndpoints.Suspend(req, id);

    [Function("ActivateUser")]
    public static Task<IResult> Activate(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "users/{id}/activate")] HttpRequest req, string id) =>
        UserEndpoints.Activate(req, id);

    [Function("SetUserRole")]
    public static Task<IResult> SetRole(
        [HttpTrigger(AuthorizationLevel.Anonymous, "put", Route = "users/{id}/role")] HttpRequest req, string id) =>
        UserEndpoints.SetRole(req, id);

    [Function("ChangePassword")]
    public static Task<IResult> ChangePassword(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "users/{id}/password")] HttpRequest req, string id) =>
        UserEndpoints.ChangePassword(req, id);

    [Function("IssuePasswordReset")]
    public static Task<IResult> IssuePasswordReset(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "users/{id}/password-reset")] HttpRequest req, string id) =>
        UserEndpoints.IssuePasswordReset(req, id);
}
