namespace IronAuth.Core.Sessions;

/// <summary>
/// Refresh tokens are <c>{session id}.{256-bit secret}</c>: opaque to clients, stored only as a
/// SHA-256 digest, and carrying the session id so a store can keep a session's tokens together.
/// </summary>
public static class RefreshTokens
{
    public static string New(string sessionId) => $"{sessionId}.{Ids.NewSecret()}";

    public static bool TryParse(string? token, out string sessionId)
    {
        sessionId = "";
        if (token is not { Length: 76 } || token[32] != '.')
        {
            return false;
        }

        var id = token[..32];
        if (!Ids.IsWellFormed(id))
        {
            return false;
        }

        sessionId = id;
        return true;
    }
}
