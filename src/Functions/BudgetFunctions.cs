using IronAuth.Api.Endpoints;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace IronAuth.Functions;

/// <summary>Agent budgets and the budget protocol (IC tokens, leases).</summary>
public static class BudgetFunctions
{
    [Function("CreateBudget")]
    public static Task<IResult> Create(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "budgets")] HttpRequest req) => BudgetEndpoints.Create(req);

    [Function("ListBudgets")]
    public static Task<IResult> List(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "budgets")] HttpRequest req) => BudgetEndpoints.List(req);

    [Function("GetBudget")]
    public static Task<IResult> Get(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "budgets/{id}")] HttpRequest req, string id) => BudgetEndpoints.Get(req, id);

    [Function("GetBudgetStatus")]
    public static Task<IResult> GetBudgetStatus(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "budgets/{id}/status")] HttpRequest req, string id) => BudgetEndpoints.Status(req, id);

    [Function("UpdateBudget")]
    public static Task<IResult> Update(
        [HttpTrigger(AuthorizationLevel.Anonymous, "patch", Route = "budgets/{id}")] HttpRequest req, string id) => BudgetEndpoints.Update(req, id);

    [Function("RevokeBudget")]
    public static Task<IResult> Revoke(
        [HttpTrigger(AuthorizationLevel.Anonymous, "delete", Route = "budgets/{id}")] HttpRequest req, string id) => BudgetEndpoints.Revoke(req, id);

    [Function("SetBudgetProviderCredential")]
    public static Task<IResult> SetProviderCredential(
        [HttpTrigger(AuthorizationLevel.Anonymous, "put", Route = "budgets/{id}/provider-credential")] HttpRequest req, string id) =>
        BudgetEndpoints.SetProviderCredential(req, id);

    [Function("MintIcToken")]
    public static Task<IResult> MintIcToken(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "budgets/{id}/ic-tokens")] HttpRequest req, string id) =>
        BudgetEndpoints.MintIcToken(req, id);

    [Function("RevokeIcToken")]
    public static Task<IResult> RevokeIcToken(
        [HttpTrigger(AuthorizationLevel.Anonymous, "delete", Route = "budgets/{id}/ic-tokens/{jti}")] HttpRequest req, string id, string jti) =>
        BudgetEndpoints.RevokeIcToken(req, id, jti);

    [Function("BudgetHandshake")]
    public static Task<IResult> Handshake(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "budgets/handshake")] HttpRequest req) => BudgetEndpoints.Handshake(req);

    [Function("BudgetReport")]
    public static Task<IResult> Report(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "budgets/report")] HttpRequest req) => BudgetEndpoints.Report(req);

    [Function("BudgetRefresh")]
    public static Task<IResult> Refresh(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "budgets/refresh")] HttpRequest req) => BudgetEndpoints.Refresh(req);

    [Function("CloseBudgetLease")]
    public static Task<IResult> CloseLease(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "budgets/leases/{id}/close")] HttpRequest req, string id) =>
        BudgetEndpoints.CloseLease(req, id);
}
