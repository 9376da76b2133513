namespace IronAuth.Server.Cli;

/// <summary>
/// Finds secrets among command-line arguments. Any local user sees a process's arguments (<c>ps</c>,
/// <c>/proc/PID/cmdline</c>), and shells keep them in their history, so <c>serve</c> refuses to start with one and
/// names the environment variable to use instead.
/// </summary>
internal static class CommandLineSecrets
{
    // Configuration keys whose values are secrets, compared by their last segment ("IronAuth:Bootstrap:AdminPassword";
    // "Password" covers IronAuth:Email:Smtp:Password, "EncryptionKey" IronAuth:Mfa:EncryptionKey, "CredentialKey"
    // IronAuth:Budgets:CredentialKey).
    private static readonly HashSet<string> SecretKeys = new(StringComparer.OrdinalIgnoreCase) { "AdminPassword", "SigningKey", "PreviousSigningKeys", "Password", "EncryptionKey", "CredentialKey" };

    // A Table Storage connection string is a secret when it carries a key or a signature; UseDevelopmentStorage=true is not.
    private static readonly string[] ConnectionStringSecrets = ["AccountKey=", "SharedAccessSignature=", "sig="];

    /// <summary>The configuration keys given a secret value in <paramref name="args"/> (ASP.NET Core's command-line forms).</summary>
    public static IReadOnlyList<string> Find(IReadOnlyList<string> args)
    {
        var found = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            var start = arg.StartsWith("--", StringComparison.Ordinal) ? 2 : arg.StartsWith('/') ? 1 : 0;
            var equals = arg.IndexOf('=', StringComparison.Ordinal);
            var key = (equals < 0 ? arg[start..] : arg[start..equals]).Replace("__", ":", StringComparison.Ordinal);
            // "--key value" and "/key value" take the next argument as the value; "key=value" and "--key=value" carry it.
            var value = equals >= 0 ? arg[(equals + 1)..] : start > 0 && i + 1 < args.Count ? args[i + 1] : "";
            var name = key[(key.LastIndexOf(':') + 1)..];
            // Array elements (PreviousSigningKeys:0) are named by their index: the secret is the array's name.
            if (int.TryParse(name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _) && key.LastIndexOf(':') > 0)
            {
                var parent = key[..key.LastIndexOf(':')];
                name = parent[(parent.LastIndexOf(':') + 1)..];
            }

            var secret = SecretKeys.Contains(name)
                || (name.Equals("ConnectionString", StringComparison.OrdinalIgnoreCase)
                    && ConnectionStringSecrets.Any(marker => value.Contains(marker, StringComparison.OrdinalIgnoreCase)));
            if (secret && value.Length > 0)
            {
                found.Add(key);
            }
        }

        return found;
    }

    /// <summary>The environment variable that carries <paramref name="key"/> instead.</summary>
    public static string EnvironmentVariable(string key) => key.Replace(":", "__", StringComparison.Ordinal);
}
