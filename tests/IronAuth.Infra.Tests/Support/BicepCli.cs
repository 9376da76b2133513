using System.Diagnostics;
using System.Reflection;

namespace IronAuth.Infra.Tests.Support;

public sealed record BicepRun(int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>Everything the CLI said besides the requested output: warnings and errors go to stderr.</summary>
    public string Diagnostics => StandardError.Trim();
}

/// <summary>
/// Runs the Bicep CLI from the Azure.Bicep.CommandLine package ($(BicepPath), passed in as assembly
/// metadata) in infra/bicep. Nothing here needs the network: the templates use local modules only.
/// </summary>
public static class BicepCli
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);
    private static readonly Lazy<string> Executable = new(FindExecutable);

    public static string InfraDirectory { get; } = Metadata("InfraBicepDirectory");

    public static async Task<BicepRun> RunInAsync(string workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] arguments)
    {
        var start = new ProcessStartInfo(Executable.Value)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // The parameter file reads the signing key from here; a developer's own value must not leak into
        // (or change) what the tests compile.
        start.Environment.Remove("IRONAUTH_JWT_SIGNING_KEY");
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {start.FileName}.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(Timeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"bicep {string.Join(' ', arguments)} did not finish within {Timeout}.");
        }

        return new BicepRun(process.ExitCode, await output, await error);
    }

    public static Task<BicepRun> RunAsync(params string[] arguments) => RunInAsync(InfraDirectory, null, arguments);

    private static string FindExecutable()
    {
        var path = Metadata("BicepPath");
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"The Bicep CLI is not at {path}; restore the test project.", path);
        }

        // A package extracted by some tools loses the execute bit; the test restores it rather than a person.
        if (!OperatingSystem.IsWindows())
        {
            var mode = File.GetUnixFileMode(path);
            const UnixFileMode execute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
            if ((mode & UnixFileMode.UserExecute) == 0)
            {
                File.SetUnixFileMode(path, mode | execute);
            }
        }

        return path;
    }

    private static string Metadata(string key) =>
        typeof(BicepCli).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().SingleOrDefault(a => a.Key == key)?.Value
        ?? throw new InvalidOperationException($"Assembly metadata {key} is missing; see IronAuth.Infra.Tests.csproj.");
}
