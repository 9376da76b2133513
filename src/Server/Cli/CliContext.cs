using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using IronAuth.Api.Http;
using IronAuth.Core;
using IronAuth.Core.Users;

namespace IronAuth.Server.Cli;

/// <summary>
/// What every command shares: the streams, the store options (which override configuration), opening the store,
/// and the ways of reporting a result.
/// </summary>
internal sealed class CliContext(TextReader input, TextWriter output, TextWriter error, CliEnvironment environment)
{
    private static readonly JsonSerializerOptions Json = new(ApiJson.Options) { WriteIndented = true };

    public TextReader In => input;

    public TextWriter Out => output;

    public TextWriter Error => error;

    public CliEnvironment Environment => environment;

    public Option<string> Store { get; } = WithValues(
        new Option<string>("--store") { Description = "The store: sqlite or tables (IronAuth:Store).", Recursive = true },
        StringComparer.OrdinalIgnoreCase,
        "sqlite",
        "tables");

    public Option<string> SqlitePath { get; } = new("--sqlite-path")
    {
        Description = "The SQLite database file (IronAuth:Sqlite:Path).",
        Recursive = true,
    };

    public Option<string> TablesConnectionString { get; } = new("--tables-connection-string")
    {
        Description = "The Table Storage connection string (IronAuth:Tables:ConnectionString). Prefer the environment "
            + "variable IronAuth__Tables__ConnectionString: command lines are visible to other local users.",
        Recursive = true,
    };

    /// <summary>The configuration keys the store options set; they take precedence over every other source.</summary>
    public Dictionary<string, string?> ConfigurationOverrides(ParseResult parse)
    {
        var overrides = new Dictionary<string, string?>();
        Add("IronAuth:Store", parse.GetValue(Store));
        Add("IronAuth:Sqlite:Path", parse.GetValue(SqlitePath));
        Add("IronAuth:Tables:ConnectionString", parse.GetValue(TablesConnectionString));
        return overrides;

        void Add(string key, string? value)
        {
            if (value is not null)
            {
                overrides[key] = value;
            }
        }
    }

    /// <summary>Opens the configured store, runs <paramref name="action"/> on it, and closes it.</summary>
    public async Task<int> RunAsync(ParseResult parse, CancellationToken cancellationToken, Func<AdminSession, Task<int>> action)
    {
        await using var session = await AdminSession.OpenAsync(this, parse, cancellationToken);
        return await action(session);
    }

    public int Fail(Failure failure) => Fail($"{failure.Detail} [{failure.Code}]");

    public int Fail(string reason)
    {
        error.WriteLine($"ironauth: {reason}");
        return IronAuthCli.Failed;
    }

    public int Usage(string reason)
    {
        error.WriteLine($"ironauth: {reason}");
        return IronAuthCli.UsageError;
    }

    public void WriteJson<T>(T value) => output.WriteLine(JsonSerializer.Serialize(value, Json));

    /// <summary>A user by username, or by id.</summary>
    public static async Task<Result<User>> FindUserAsync(AdminSession session, string usernameOrId, CancellationToken cancellationToken)
    {
        var byName = await session.Users.FindByUsernameAsync(usernameOrId, cancellationToken);
        if (byName.Succeeded || !Ids.IsWellFormed(usernameOrId))
        {
            return byName;
        }

        var byId = await session.Users.GetAsync(usernameOrId, cancellationToken);
        return byId.Succeeded ? byId : byName;
    }

    /// <summary>The id of the user a <c>--user</c> filter names (username or id); null when there is no filter.</summary>
    public static async Task<Result<string?>> FindUserIdAsync(AdminSession session, string? usernameOrId, CancellationToken cancellationToken)
    {
        if (usernameOrId is null)
        {
            return (string?)null;
        }

        var found = await FindUserAsync(session, usernameOrId, cancellationToken);
        return found.Value is { } user ? user.Id : found.Failure!;
    }

    /// <summary>
    /// A new password: the first line of standard input with <paramref name="stdinOption"/>, else typed twice on the
    /// terminal. Null (after saying why, with the exit code in <paramref name="exitCode"/>) when there is none.
    /// </summary>
    public string? ReadNewPassword(ParseResult parse, Option<bool> stdinOption, string username, out int exitCode)
    {
        exitCode = IronAuthCli.Succeeded;
        if (parse.GetValue(stdinOption))
        {
            if (input.ReadLine() is { Length: > 0 } line)
            {
                return line;
            }

            exitCode = Fail("No password on standard input.");
            return null;
        }

        if (environment.ReadSecret is not { } readSecret)
        {
            exitCode = Usage($"No password given: pass {stdinOption.Name}, or run in a terminal to be asked.");
            return null;
        }

        var password = readSecret($"Password for {username}: ");
        if (string.IsNullOrEmpty(password))
        {
            exitCode = Fail("No password entered.");
            return null;
        }

        if (readSecret("Repeat the password: ") != password)
        {
            exitCode = Fail("The passwords did not match.");
            return null;
        }

        return password;
    }

    public static string Time(DateTimeOffset? time) =>
        time?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture) ?? "-";

    public static string Number<T>(T value)
        where T : IFormattable => value.ToString(null, CultureInfo.InvariantCulture);

    public static Option<T> WithValues<T>(Option<T> option, StringComparer comparer, params string[] values)
    {
        option.AcceptOnlyFromAmong(comparer, values);
        option.HelpName = string.Join('|', values);
        return option;
    }

    public static Option<int> InRange(Option<int> option, int min, int max)
    {
        option.Validators.Add(result =>
        {
            // A value that is not a number is the parser's error already; a default is in range.
            if (result.Tokens is [var token] && int.TryParse(token.Value, CultureInfo.InvariantCulture, out var value) && (value < min || value > max))
            {
                result.AddError($"{result.Option.Name} must be from {min} to {max} (was {value}).");
            }
        });
        return option;
    }
}
