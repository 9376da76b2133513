using System.Reflection;

namespace IronAuth.Api;

public static class ApiInfo
{
    public static string Version { get; } =
        typeof(ApiInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";
}
