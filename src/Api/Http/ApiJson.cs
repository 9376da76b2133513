using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using IronAuth.Api.Contracts;

namespace IronAuth.Api.Http;

/// <summary>The wire format: snake_case names, strict about nulls and required members.</summary>
public static class ApiJson
{
    public static JsonSerializerOptions Options { get; } = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.DictionaryKeyPolicy = null;
        // A null for a non-nullable member or a missing required member is a 400, not a half-built request.
        options.RespectNullableAnnotations = true;
        options.RespectRequiredConstructorParameters = true;
        options.NumberHandling = JsonNumberHandling.Strict;
        options.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        options.MaxDepth = 16;
        // The contracts' metadata comes from the source generator (ApiJsonContext) rather than being built by
        // reflection on first use; anything else still goes through reflection.
        options.TypeInfoResolver = JsonTypeInfoResolver.Combine(ApiJsonContext.Default, options.TypeInfoResolver ?? new DefaultJsonTypeInfoResolver());
        return options;
    }
}

/// <summary>
/// Source-generated metadata for the request and response contracts, declared with the settings of
/// <see cref="ApiJson.Configure"/> (keep the two alike). Only the metadata is used: the generated fast-path writers need
/// the context's own options, and ASP.NET Core's JSON options (with their encoder) are not those.
/// </summary>
[JsonSourceGenerationOptions(
    JsonSerializerDefaults.Web,
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true,
    NumberHandling = JsonNumberHandling.Strict,
    MaxDepth = 16)]
[JsonSerializable(typeof(LoginRequest))]
[JsonSerializable(typeof(RefreshRequest))]
[JsonSerializable(typeof(PasswordResetConfirmRequest))]
[JsonSerializable(typeof(TokenResponse))]
[JsonSerializable(typeof(MeResponse))]
[JsonSerializable(typeof(JwksResponse))]
[JsonSerializable(typeof(SigningKeyResponse))]
[JsonSerializable(typeof(SigningKeysResponse))]
[JsonSerializable(typeof(HealthResponse))]
[JsonSerializable(typeof(CreateTokenRequest))]
[JsonSerializable(typeof(ApiTokenResponse))]
[JsonSerializable(typeof(CreatedTokenResponse))]
[JsonSerializable(typeof(VerifyTokenRequest))]
[JsonSerializable(typeof(VerifyTokenResponse))]
[JsonSerializable(typeof(RecordUsageRequest))]
[JsonSerializable(typeof(RecordedUsageResponse))]
[JsonSerializable(typeof(List<UsageDayResponse>))]
[JsonSerializable(typeof(CreateUserRequest))]
[JsonSerializable(typeof(SuspendUserRequest))]
[JsonSerializable(typeof(SetRoleRequest))]
[JsonSerializable(typeof(ChangePasswordRequest))]
[JsonSerializable(typeof(PasswordResetResponse))]
[JsonSerializable(typeof(UserResponse))]
[JsonSerializable(typeof(PageResponse<UserResponse>))]
[JsonSerializable(typeof(PageResponse<ApiTokenResponse>))]
[JsonSerializable(typeof(PageResponse<AuditEntryResponse>))]
// ---- Accounts (issue 16) ----
[JsonSerializable(typeof(RegisterRequest))]
[JsonSerializable(typeof(VerifyEmailRequest))]
[JsonSerializable(typeof(EmailRequest))]
[JsonSerializable(typeof(MfaCodeRequest))]
[JsonSerializable(typeof(TotpBeginRequest))]
[JsonSerializable(typeof(MfaVerifyRequest))]
[JsonSerializable(typeof(TotpSetupResponse))]
[JsonSerializable(typeof(RecoveryCodesResponse))]
[JsonSerializable(typeof(FederatedSignInRequest))]
// ---- end Accounts ----
// --- ops/usage (issue 19)
[JsonSerializable(typeof(SpendingReportResponse))]
// --- end ops/usage
// Agent budgets (issue 18)
[JsonSerializable(typeof(CreateBudgetRequest))]
[JsonSerializable(typeof(UpdateBudgetRequest))]
[JsonSerializable(typeof(BudgetResponse))]
[JsonSerializable(typeof(PageResponse<BudgetResponse>))]
[JsonSerializable(typeof(SetProviderCredentialRequest))]
[JsonSerializable(typeof(MintIcTokenRequest))]
[JsonSerializable(typeof(MintedIcTokenResponse))]
[JsonSerializable(typeof(HandshakeRequest))]
[JsonSerializable(typeof(HandshakeResponse))]
[JsonSerializable(typeof(BudgetReportRequest))]
[JsonSerializable(typeof(BudgetReportResponse))]
[JsonSerializable(typeof(BudgetRefreshRequest))]
[JsonSerializable(typeof(BudgetRefreshResponse))]
[JsonSerializable(typeof(CloseLeaseResponse))]
internal sealed partial class ApiJsonContext : JsonSerializerContext;
