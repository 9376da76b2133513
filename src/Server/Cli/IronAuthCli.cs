using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using Microsoft.Extensions.Options;

namespace IronAuth.Server.Cli;

/// <summary>What an invocation needs beyond its three streams.</summary>
public sealed class CliEnvironment
{
    /// <summary>Shows a prompt and reads a line without echoing it; null when standard input is not a terminal.</summary>
    public Func<string, string?>? ReadSecret { get; init; }

    /// <summary>Applied to every host the command line builds, after IronAuth's own registrations (tests: clock, settings).</summary>
    public Action<IHostApplicationBuilder>? ConfigureHost { get; init; }
}

/// <summary>
/// The <c>ironauth</c> executable: <c>serve</c> (the default) runs the server; the other commands administer the
/// configured store directly, through the same Core managers (and so the same rules and audit) as the HTTP API.
/// </summary>
public static class IronAuthCli
{
    public const int Succeeded = 0;
    public const int Failed = 1;
    public const int UsageError = 2;

    public static async Task<int> RunAsync(
        string[] args,
        TextReader input,
        TextWriter output,
        TextWriter error,
        CliEnvironment? environment = null,
        CancellationToken cancellationToken = default)
    {
        var cli = new CliContext(input, output, error, environment ?? new CliEnvironment());
        if (args.Length == 0)
        {
            // The usual start (dotnet run, a service unit, a container) needs no parsing: skip building the command tree.
            return await ReportFailuresAsync(error, () => ServeCommand.ServeAsync(cli, args, cancellationToken), cancellationToken);
        }

        var root = BuildRootCommand(cli);
        // A first argument that is not an option must name a command, so a mistyped command is an error rather than
        // a server start. Otherwise (no arguments, --urls ..., --IronAuth:Section:Key=value) the server runs and takes
        // the arguments it does not know as configuration, as ASP.NET Core always has.
        root.TreatUnmatchedTokensAsErrors = args.Length > 0 && !args[0].StartsWith('-');
        // No @response-file expansion: serve hands its arguments to ASP.NET Core as they were given.
        var parse = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (UsageErrors(parse) is { Count: > 0 } usageErrors)
        {
            foreach (var message in usageErrors)
            {
                error.WriteLine($"ironauth: {message}");
            }

            error.WriteLine($"Run '{CommandPath(parse.CommandResult)} --help' for usage.");
            return UsageError;
        }

        var invocation = new InvocationConfiguration
        {
            Output = output,
            Error = error,
            EnableDefaultExceptionHandler = false,
            // Signals are left to the host (serve shuts down gracefully) and to the default handling (admin commands).
            ProcessTerminationTimeout = null,
        };
        return await ReportFailuresAsync(error, () => parse.InvokeAsync(invocation, cancellationToken), cancellationToken);
    }

    /// <summary>Runs a command, turning a bad configuration, a failing store or a bug into a message and an exit code.</summary>
    private static async Task<int> ReportFailuresAsync(TextWriter error, Func<Task<int>> run, CancellationToken cancellationToken)
    {
        try
        {
            return await run();
        }
        catch (OptionsValidationException e)
        {
            error.WriteLine($"ironauth: invalid configuration: {string.Join(" ", e.Failures)}");
            return Failed;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            error.WriteLine("ironauth: cancelled.");
            return Failed;
        }
        catch (Exception e) when (e is Microsoft.Data.Sqlite.SqliteException or IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"ironauth: the store failed: {e.Message}");
            return Failed;
        }
        catch (Exception e)
        {
            // A bug: the reason on the first line, the details after it.
            error.WriteLine($"ironauth: unexpected {e.GetType().Name}: {e.Message}");
            error.WriteLine(e);
            return Failed;
        }
    }

    internal static RootCommand BuildRootCommand(CliContext cli)
    {
        var root = new RootCommand(
            "IronAuth: users, sessions and API tokens. Without a command, runs the server (see 'serve'); the other "
            + "commands administer the configured store directly.");
        root.Options.Add(cli.Store);
        root.Options.Add(cli.SqlitePath);
        root.Options.Add(cli.TablesConnectionString);
        ServeCommand.AddTo(root, cli);
        root.Subcommands.Add(InitCommand.Create(cli));
        root.Subcommands.Add(UsersCommands.Create(cli));
        root.Subcommands.Add(TokensCommands.Create(cli));
        root.Subcommands.Add(BudgetsCommands.Create(cli));
        root.Subcommands.Add(KeysCommands.Create(cli));
        root.Subcommands.Add(MaintenanceCommands.Create(cli));
        root.Subcommands.Add(AuditCommand.Create(cli));
        // --- ops/usage (issue 19)
        root.Subcommands.Add(UsageCommand.Create(cli));
        // --- end ops/usage
        return root;
    }

    private static List<string> UsageErrors(ParseResult parse)
    {
        if (parse.Action is ParseErrorAction)
        {
            return [.. parse.Errors.Select(e => e.Message)];
        }

        // The root lets unknown arguments through for serve; an admin command never takes them.
        var command = parse.CommandResult.Command;
        return command is RootCommand || command.Name == ServeCommand.Name
            ? []
            : [.. parse.UnmatchedTokens.Select(t => $"Unrecognized command or argument '{t}'.")];
    }

    private static string CommandPath(CommandResult? result)
    {
        var names = new Stack<string>();
        for (var current = result; current is not null && current.Command is not RootCommand; current = current.Parent as CommandResult)
        {
            names.Push(current.Command.Name);
        }

        return string.Join(' ', names.Prepend("ironauth"));
    }
}
