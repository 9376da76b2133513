using System.CommandLine;

namespace IronAuth.Server.Cli;

/// <summary><c>ironauth [serve]</c>: runs the server until it is stopped.</summary>
internal static class ServeCommand
{
    public const string Name = "serve";

    public static void AddTo(RootCommand root, CliContext cli)
    {
        var serve = new Command(
            Name,
            "Run the server (the default command). Other arguments are ASP.NET Core configuration, as always: "
            + "--urls http://127.0.0.1:7071, --IronAuth:Section:Key=value, ...")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        serve.SetAction((parse, cancellationToken) => RunAsync(cli, parse, cancellationToken));
        root.SetAction((parse, cancellationToken) => RunAsync(cli, parse, cancellationToken));
        root.Subcommands.Add(serve);
    }

    private static async Task<int> RunAsync(CliContext cli, ParseResult parse, CancellationToken cancellationToken)
    {
        // The arguments the parser did not know go to ASP.NET Core's command-line configuration, in their order;
        // the store options come last so they win.
        string[] args =
        [
            .. parse.UnmatchedTokens,
            .. cli.ConfigurationOverrides(parse).Select(o => $"--{o.Key}={o.Value}"),
        ];
        return await ServeAsync(cli, args, cancellationToken);
    }

    /// <summary>Runs the server with <paramref name="args"/> as ASP.NET Core command-line configuration.</summary>
    public static async Task<int> ServeAsync(CliContext cli, string[] args, CancellationToken cancellationToken)
    {
        if (CommandLineSecrets.Find(args) is { Count: > 0 } secrets)
        {
            foreach (var key in secrets)
            {
                cli.Error.WriteLine(
                    $"ironauth: refusing to start: {key} is a secret, and command-line arguments are visible to every local user "
                    + $"(ps) and kept in shell history. Set the environment variable {CommandLineSecrets.EnvironmentVariable(key)} "
                    + "or put it in appsettings.json (or a Key Vault reference) instead.");
            }

            return IronAuthCli.UsageError;
        }

        var builder = IronAuthServer.CreateBuilder(args);
        cli.Environment.ConfigureHost?.Invoke(builder);
        await using var app = IronAuthServer.Build(builder);
        await HostingAbstractionsHostExtensions.RunAsync(app, cancellationToken);
        return IronAuthCli.Succeeded;
    }
}
