using IronAuth.Api.Contracts;
using IronAuth.Api.Endpoints;
using IronAuth.Api.Http;
using IronAuth.Core.Tokens;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace IronAuth.Api;

/// <summary>
/// One operation of the HTTP API: method, route (relative to <c>/api</c>, as Azure Functions routes are),
/// handler, and the OpenAPI description of its body and outcomes. Both hosts map exactly this table.
/// </summary>
public sealed record ApiRoute(string Method, string Route, string Name, string Summary, Delegate Handler, Action<RouteHandlerBuilder> Describe);

public static class IronAuthRoutes
{
    public const string Prefix = "api";
    public const string JwksRoute = "auth/jwks.json";
    public const string TokenRoute = "oauth/token";
    public const string IntrospectRoute = "oauth/introspect";
    public const string RevokeRoute = "oauth/revoke";

    public static IReadOnlyList<ApiRoute> All { get; } =
    [
        new("POST", "auth/login", "Login", "Sign in with username and password", AuthEndpoints.Login,
            b => b.Accepts<LoginRequest>("application/json").Produces<TokenResponse>().Problems(400, 401, 403, 429, 503).Public()),
        new("POST", "auth/refresh", "Refresh", "Rotate a refresh token for a new token pair", AuthEndpoints.Refresh,
            b => b.Accepts<RefreshRequest>("application/json").Produces<TokenResponse>().Problems(400, 401).Public()),
        new("POST", "auth/logout", "Logout", "End the current session", AuthEndpoints.Logout,
            b => b.Produces(204).Problems(400, 401)),
        new("GET", "auth/me", "Me", "The authenticated caller", AuthEndpoints.Me,
            b => b.Produces<MeResponse>().Problems(401)),
        new("GET", JwksRoute, "Jwks", "Public keys that verify access tokens (JWKS)", AuthEndpoints.Jwks,
            b => b.Produces<JwksResponse>().Public()),
        new("POST", "auth/password-reset/confirm", "ConfirmPasswordReset", "Set a new password with a one-time reset token", AuthEndpoints.ConfirmPasswordReset,
            b => b.Accepts<PasswordResetConfirmRequest>("application/json").Produces(204).Problems(400).Public()),

        // ---- Accounts (issue 16): self-service sign-up, email verification, reset by email ----
        new("POST", "auth/register", "Register", "Sign up with an email and a password; the account signs in once its email is verified", AccountEndpoints.Register,
            b => b.Accepts<RegisterRequest>("application/json").Produces<UserResponse>(201).Problems(400, 404, 409, 429, 503).Public()),
        new("POST", "auth/verify-email", "VerifyEmail", "Verify an email address with the code mailed to it", AccountEndpoints.VerifyEmail,
            b => b.Accepts<VerifyEmailRequest>("application/json").Produces(204).Problems(400, 404).Public()),
        new("POST", "auth/verify-email/resend", "ResendVerification", "Mail a new verification code (202 whether or not the address has an account)", AccountEndpoints.ResendVerification,
            b => b.Accepts<EmailRequest>("application/json").Produces(202).Problems(400, 404, 503).Public()),
        new("POST", "auth/password-reset/request", "RequestPasswordReset", "Mail a reset token to a verified address (202 whether or not it has an account)", AccountEndpoints.RequestPasswordReset,
            b => b.Accepts<EmailRequest>("application/json").Produces(202).Problems(400, 404, 503).Public()),
        new("POST", "auth/mfa/totp", "BeginTotp", "Start TOTP enrolment with the current password: the secret, an otpauth URI and its QR code, shown once (signed-in session)", MfaEndpoints.BeginTotp,
            b => b.Accepts<TotpBeginRequest>("application/json").Produces<TotpSetupResponse>().Problems(400, 401, 403, 409, 429)),
        new("POST", "auth/mfa/totp/confirm", "ConfirmTotp", "Confirm TOTP enrolment with a first code; returns ten recovery codes, shown once", MfaEndpoints.ConfirmTotp,
            b => b.Accepts<MfaCodeRequest>("application/json").Produces<RecoveryCodesResponse>().Problems(400, 401, 403, 409)),
        new("DELETE", "auth/mfa/totp", "DisableTotp", "Turn TOTP off with a current TOTP or recovery code", MfaEndpoints.DisableTotp,
            b => b.Accepts<MfaCodeRequest>("application/json").Produces(204).Problems(400, 401, 403, 409, 429)),
        new("POST", "auth/mfa/verify", "VerifyMfa", "Complete a sign-in that answered mfa_required, with a TOTP or recovery code", MfaEndpoints.Verify,
            b => b.Accepts<MfaVerifyRequest>("application/json").Produces<TokenResponse>().Problems(400, 401, 429).Public()),
        new("POST", "auth/federated", "FederatedSignIn", "Sign in with an ID token from a configured OpenID provider", AccountEndpoints.Federated,
            b => b.Accepts<FederatedSignInRequest>("application/json").Produces<TokenResponse>().Problems(400, 401, 403, 409).Public()),
        new("DELETE", "users/{id}/mfa", "ResetUserMfa", "Turn a user's two-factor sign-in off (admin)", MfaEndpoints.Reset,
            b => b.Produces(204).Problems(401, 403, 404)),
        // ---- end Accounts ----

        new("POST", "users", "CreateUser", "Create a user (admin)", UserEndpoints.Create,
            b => b.Accepts<CreateUserRequest>("application/json").Produces<UserResponse>(201).Problems(400, 401, 403, 409)),
        new("GET", "users", "ListUsers", "List users, filtered by role and status, paged by cursor", UserEndpoints.List,
            b => b.Produces<PageResponse<UserResponse>>().Problems(400, 401, 403).Paged().Query(
                new("role", "Only users with this role.", Enum: ["admin", "user", "viewer"]),
                new("status", "Only users in this state.", Enum: ["active", "suspended", "deleted"]))),
        new("GET", "users/{id}", "GetUser", "One user", UserEndpoints.Get,
            b => b.Produces<UserResponse>().Problems(401, 403, 404)),
        new("PATCH", "users/{id}", "UpdateUser", "Update email and display name", UserEndpoints.Update,
            b => b.Accepts<UpdateUserRequest>("application/json").Produces<UserResponse>().Problems(400, 401, 403, 404)),
        new("DELETE", "users/{id}", "DeleteUser", "Soft-delete a user and end its sessions (admin)", UserEndpoints.Delete,
            b => b.Produces(204).Problems(401, 403, 404, 409)),
        new("POST", "users/{id}/suspend", "SuspendUser", "Suspend a user and end its sessions (admin)", UserEndpoints.Suspend,
            b => b.Accepts<SuspendUserRequest>("application/json").Produces<UserResponse>().Problems(400, 401, 403, 404, 409)),
        new("POST", "users/{id}/activate", "ActivateUser", "Reactivate a suspended user (admin)", UserEndpoints.Activate,
            b => b.Produces<UserResponse>().Problems(401, 403, 404, 409)),
        new("PUT", "users/{id}/role", "SetUserRole", "Change a user's role (admin)", UserEndpoints.SetRole,
            b => b.Accepts<SetRoleRequest>("application/json").Produces<UserResponse>().Problems(400, 401, 403, 404, 409)),
        new("POST", "users/{id}/password", "ChangePassword", "Change one's own password; ends one's other sessions", UserEndpoints.ChangePassword,
            b => b.Accepts<ChangePasswordRequest>("application/json").Produces(204).Problems(400, 401, 403, 404, 429, 503)),
        new("POST", "users/{id}/password-reset", "IssuePasswordReset", "Issue a one-time password reset token (admin)", UserEndpoints.IssuePasswordReset,
            b => b.Produces<PasswordResetResponse>().Problems(401, 403, 404)),
        new("GET", "users/{id}/audit", "ListUserAudit", "Audit entries made by or about a user, newest first", AuditEndpoints.ListForUser,
            b => b.Produces<PageResponse<AuditEntryResponse>>().Problems(400, 401, 403, 404).Paged()),

        new("POST", "tokens", "CreateToken", "Issue an API token; the secret is in this response only", TokenEndpoints.Create,
            b => b.Accepts<CreateTokenRequest>("application/json").Produces<CreatedTokenResponse>(201).Problems(400, 401, 403, 404, 409, 429)),
        new("GET", "tokens", "ListTokens", "List API tokens (metadata only)", TokenEndpoints.List,
            b => b.Produces<PageResponse<ApiTokenResponse>>().Problems(400, 401, 403, 429).Paged().Query(new ApiQueryParameter("user_id", "Only this user's tokens."))),
        new("GET", "tokens/{id}", "GetToken", "One API token's metadata", TokenEndpoints.Get,
            b => b.Produces<ApiTokenResponse>().Problems(401, 403, 404, 429)),
        new("DELETE", "tokens/{id}", "RevokeToken", "Revoke an API token", TokenEndpoints.Revoke,
            b => b.Produces(204).Problems(401, 403, 404, 429)),
        new("POST", "tokens/verify", "VerifyToken", "Check, rate-limit and meter one use of an API token (tokens:verify)", TokenEndpoints.Verify,
            b => b.Accepts<VerifyTokenRequest>("application/json").Produces<VerifyTokenResponse>().Problems(400, 401, 403, 429)),
        new("POST", "tokens/{id}/usage", "RecordTokenUsage", "Record usage after the fact (tokens:verify)", TokenEndpoints.RecordUsage,
            b => b.Accepts<RecordUsageRequest>("application/json").Produces<RecordedUsageResponse>().Problems(400, 401, 403, 404, 429)),
        new("GET", "tokens/{id}/usage", "GetTokenUsage", "Daily usage history, newest first", TokenEndpoints.Usage,
            b => b.Produces<List<UsageDayResponse>>().Problems(400, 401, 403, 404, 429).Query(new ApiQueryParameter("days", "How many UTC days back, today included.", "integer", Minimum: 1, Maximum: TokenManager.MaxHistoryDays))),

        // --- ops/usage (issue 19): spending analytics; group_by=agent|budget sums budget spend.
        new("GET", "usage", "GetUsageReport", "Usage across tokens for a range of UTC days, summed by token, user, model or provider (or budget spend by agent or budget), most spent first", UsageEndpoints.Report,
            b => b.Produces<SpendingReportResponse>().Problems(400, 401, 403, 429).Paged().Query(
                new ApiQueryParameter("group_by", "What to sum by (default token).", Enum: UsageEndpoints.Groups),
                new ApiQueryParameter("period", "A range relative to today (UTC); instead of from/to.", Enum: [.. Core.Analytics.SpendingAnalytics.Periods]),
                new ApiQueryParameter("from", "First UTC day, yyyy-MM-dd (default today)."),
                new ApiQueryParameter("to", "Last UTC day, yyyy-MM-dd, inclusive (default today)."),
                new ApiQueryParameter("user_id", "Only this user's tokens, or budgets for agent and budget (admin, viewer)."))),
        // --- end ops/usage
        // --- Agent budgets and IC tokens (issue 18; docs/budgets.md) ---
        new("POST", "budgets", "CreateBudget", "Create a budget (admin for anyone, user for itself)", BudgetEndpoints.Create,
            b => b.Accepts<CreateBudgetRequest>("application/json").Produces<BudgetResponse>(201).Problems(400, 401, 403, 404, 429)),
        new("GET", "budgets", "ListBudgets", "List budgets", BudgetEndpoints.List,
            b => b.Produces<PageResponse<BudgetResponse>>().Problems(400, 401, 403, 429).Paged().Query(new ApiQueryParameter("user_id", "Only this user's budgets."))),
        new("GET", "budgets/{id}", "GetBudget", "One budget with its spend per agent", BudgetEndpoints.Get,
            b => b.Produces<BudgetResponse>().Problems(401, 403, 404, 429)),
        new("GET", "budgets/{id}/status", "GetBudgetStatus", "Share of the allocation spent and the risk level (low, medium, high, critical, exhausted)", BudgetEndpoints.Status,
            b => b.Produces<BudgetStatusResponse>().Problems(401, 403, 404, 429)),
        new("PATCH", "budgets/{id}", "UpdateBudget", "Change a budget's allocation, never below what is spent (admin)", BudgetEndpoints.Update,
            b => b.Accepts<UpdateBudgetRequest>("application/json").Produces<BudgetResponse>().Problems(400, 401, 403, 404, 409, 429)),
        new("DELETE", "budgets/{id}", "RevokeBudget", "Revoke a budget: its IC tokens and leases stop at once", BudgetEndpoints.Revoke,
            b => b.Produces(204).Problems(401, 403, 404, 429)),
        new("PUT", "budgets/{id}/provider-credential", "SetBudgetProviderCredential", "Attach the provider credential, sealed at rest; write-only (admin)", BudgetEndpoints.SetProviderCredential,
            b => b.Accepts<SetProviderCredentialRequest>("application/json").Produces(204).Problems(400, 401, 403, 404, 409, 429)),
        new("POST", "budgets/{id}/ic-tokens", "MintIcToken", "Mint an IC token (typ ic+jwt) that links an agent to the budget", BudgetEndpoints.MintIcToken,
            b => b.Accepts<MintIcTokenRequest>("application/json").Produces<MintedIcTokenResponse>(201).Problems(400, 401, 403, 404, 409, 429)),
        new("DELETE", "budgets/{id}/ic-tokens/{jti}", "RevokeIcToken", "Revoke one IC token; its open leases return their unspent parts", BudgetEndpoints.RevokeIcToken,
            b => b.Produces(204).Problems(401, 403, 404, 429)),
        new("POST", "budgets/handshake", "BudgetHandshake", "Trade an IC token (as bearer) for a lease and the provider credential", BudgetEndpoints.Handshake,
            b => b.Accepts<HandshakeRequest>("application/json").Produces<HandshakeResponse>().Problems(400, 401, 402, 403, 503)),
        new("POST", "budgets/report", "BudgetReport", "Report one call's usage against a lease; a report_id counts once", BudgetEndpoints.Report,
            b => b.Accepts<BudgetReportRequest>("application/json").Produces<BudgetReportResponse>().Problems(400, 401, 403, 404, 503)),
        new("POST", "budgets/refresh", "BudgetRefresh", "Replace a lease with a new one holding its unspent part and more", BudgetEndpoints.Refresh,
            b => b.Accepts<BudgetRefreshRequest>("application/json").Produces<BudgetRefreshResponse>().Problems(400, 401, 402, 403, 404, 409, 503)),
        new("POST", "budgets/leases/{id}/close", "CloseBudgetLease", "Close a lease, returning its unspent part", BudgetEndpoints.CloseLease,
            b => b.Produces<CloseLeaseResponse>().Problems(401, 403, 404, 409, 503)),
        // --- end agent budgets ---

        new("GET", "keys", "ListSigningKeys", "Signing keys with their state: active, passive (still verifying older tokens) or retired (admin)", KeyEndpoints.List,
            b => b.Produces<SigningKeysResponse>().Problems(401, 403)),
        new("POST", "keys/rotate", "RotateSigningKey", "Make a new active signing key; the old one stays passive until its tokens expire (admin)", KeyEndpoints.Rotate,
            b => b.Produces<SigningKeyResponse>().Problems(401, 403, 409)),

        new("GET", "audit", "ListAudit", "Audit entries, newest first", AuditEndpoints.List,
            b => b.Produces<PageResponse<AuditEntryResponse>>().Problems(400, 401).Paged()),
        new("GET", ".well-known/openid-configuration", "OpenIdConfiguration", "OpenID Provider and OAuth 2.0 authorization server metadata", OAuthEndpoints.Discovery,
            b => b.Produces(StatusCodes.Status200OK, contentType: "application/json").Public()),
        new("POST", TokenRoute, "OAuthToken", "OAuth 2.0 token endpoint: password, refresh_token and client_credentials grants (form-encoded)", OAuthEndpoints.Token,
            b => b.Accepts<Dictionary<string, string>>("application/x-www-form-urlencoded").Produces<OAuthTokenResponse>()
                .Produces<OAuthError>(400).Produces<OAuthError>(401).Produces<OAuthError>(429).Produces<OAuthError>(503).Callers(ApiCallers.Anyone | ApiCallers.Client)),
        new("POST", IntrospectRoute, "OAuthIntrospect", "Token introspection (RFC 7662) of access, refresh and API tokens (tokens:verify)", OAuthEndpoints.Introspect,
            b => b.Accepts<Dictionary<string, string>>("application/x-www-form-urlencoded").Produces<Dictionary<string, object>>()
                .Produces<OAuthError>(400).Produces<OAuthError>(401).Produces<OAuthError>(403).Produces<OAuthError>(429).Callers(ApiCallers.Client | ApiCallers.Bearer)),
        new("POST", RevokeRoute, "OAuthRevoke", "Token revocation (RFC 7009) of refresh, access and API tokens", OAuthEndpoints.Revoke,
            b => b.Accepts<Dictionary<string, string>>("application/x-www-form-urlencoded").Produces(200)
                .Produces<OAuthError>(400).Produces<OAuthError>(401).Produces<OAuthError>(403).Produces<OAuthError>(429).Callers(ApiCallers.Anyone | ApiCallers.Client | ApiCallers.Bearer)),

        new("GET", "health", "Health", "Liveness and store reachability", AuthEndpoints.Health,
            b => b.Produces<HealthResponse>().Produces<HealthResponse>(503).Public()),
        new("GET", "health/ready", "Ready", "Readiness: start-up done (schema, bootstrap, signing key) and the store answering", AuthEndpoints.Ready,
            b => b.Produces<ReadinessResponse>().Produces<ReadinessResponse>(503).Public()),
        new("HEAD", "health", "HealthHead", "Liveness and store reachability, status only", AuthEndpoints.Health,
            b => b.Produces(200).Produces(503).Public()),
        new("GET", "openapi.json", "OpenApi", "This OpenAPI document", OpenApiEndpoints.Document,
            b => b.Produces(StatusCodes.Status200OK, contentType: "application/json").Public()),
    ];

    private static RouteHandlerBuilder Problems(this RouteHandlerBuilder builder, params int[] statuses)
    {
        foreach (var status in statuses)
        {
            builder.ProducesProblem(status);
        }

        return builder;
    }
}
