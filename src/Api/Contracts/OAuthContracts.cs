using System.Text.Json.Serialization;

namespace IronAuth.Api.Contracts;

/// <summary>
/// A successful token response (RFC 6749 §5.1): refresh_token only for grants that start or continue a session, scope
/// always (it may differ from what was asked).
/// </summary>
public sealed record OAuthTokenResponse(
    string AccessToken,
    string TokenType,
    long ExpiresIn,
    string Scope,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? RefreshToken = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? RefreshExpiresIn = null);
