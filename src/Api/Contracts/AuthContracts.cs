using IronAuth.Core.Sessions;
using IronAuth.Core.Signing;
using Microsoft.IdentityModel.Tokens;

namespace IronAuth.Api.Contracts;

public sealed record LoginRequest
{
    public required string Username { get; init; }

    public required string Password { get; init; }
}

public sealed record RefreshRequest
{
    public required string RefreshToken { get; init; }
}

public sealed record PasswordResetConfirmRequest
{
    public required string ResetToken { get; init; }

    public required string NewPassword { get; init; }
}

/// <summary>RFC 6749 token response, plus the signed-in user.</summary>
public sealed record TokenResponse(
    string AccessToken,
    string TokenType,
    long ExpiresIn,
    string RefreshToken,
    long RefreshExpiresIn,
    UserResponse User)
{
    public static TokenResponse From(SignIn signIn, DateTimeOffset now) => new(
        signIn.Access.Token,
        "Bearer",
        (long)(signIn.Access.ExpiresAt - now).TotalSeconds,
        signIn.RefreshToken,
        (long)(signIn.RefreshExpiresAt - now).TotalSeconds,
        UserResponse.From(signIn.User));
}

public sealed record MeResponse(UserResponse User, string Role, string AuthMethod, IReadOnlyList<string> Scopes, string? SessionId, string? TokenId);

/// <summary>A JSON Web Key Set (RFC 7517) of public signing keys.</summary>
public sealed record JwksResponse(IReadOnlyList<IReadOnlyDictionary<string, string>> Keys)
{
    public static JwksResponse From(IEnumerable<JsonWebKey> keys) => new([.. keys.Select(Fields)]);

    private static IReadOnlyDictionary<string, string> Fields(JsonWebKey key)
    {
        var fields = new Dictionary<string, string?>
        {
            ["kty"] = key.Kty,
            ["use"] = key.Use,
            ["alg"] = key.Alg,
            ["kid"] = key.Kid,
            ["n"] = key.N,
            ["e"] = key.E,
            ["crv"] = key.Crv,
            ["x"] = key.X,
            ["y"] = key.Y,
        };
        return fields.Where(f => f.Value is not null).ToDictionary(f => f.Key, f => f.Value!);
    }
}

/// <summary>A signing key as an admin sees it: never its private half.</summary>
public sealed record SigningKeyResponse(
    string Kid, string Algorithm, string State, string Source, DateTimeOffset? CreatedAt, DateTimeOffset? DeactivatedAt, DateTimeOffset? RetireAfter, DateTimeOffset? RetiredAt)
{
    public static SigningKeyResponse From(SigningKeyInfo key) => new(
        key.Kid,
        key.Algorithm,
        key.State switch { SigningKeyState.Active => "active", SigningKeyState.Passive => "passive", _ => "retired" },
        key.Source == SigningKeySource.Store ? "store" : "configured",
        key.CreatedAt,
        key.DeactivatedAt,
        key.RetireAfter,
        key.RetiredAt);
}

/// <summary>Every signing key: the active one first, then passive and retired ones.</summary>
public sealed record SigningKeysResponse(IReadOnlyList<SigningKeyResponse> Keys);

public sealed record HealthResponse(string Status, string Store, string Version);

/// <summary>Readiness: <c>ready</c> only when every check passed.</summary>
public sealed record ReadinessResponse(string Status, string Store, string Version, ReadinessChecks Checks);

/// <summary>The start-up steps done and whether the store answers now.</summary>
public sealed record ReadinessChecks(bool Schema, bool Bootstrap, bool SigningKey, bool Store);
