namespace IronAuth.Core;

/// <summary>Who caused a change, as recorded in the audit log.</summary>
/// <param name="UserId">The acting user, or null for the system or an anonymous caller.</param>
/// <param name="Name">A readable name: the username, "system" or "local-operator".</param>
/// <param name="ClientIp">The client address the request came from, when there was one.</param>
public sealed record Actor(string? UserId, string Name, string? ClientIp)
{
    public static Actor System { get; } = new(null, "system", null);

    public static Actor LocalOperator { get; } = new(null, "local-operator", null);

    public static Actor Anonymous(string? clientIp) => new(null, "anonymous", clientIp);
}
