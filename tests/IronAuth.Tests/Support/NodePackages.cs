using System.ComponentModel;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace IronAuth.Tests.Support;

/// <summary>
/// npm packages the tests run (Azurite, the OpenAPI and JWT tools), each pinned by a lock file in a folder under
/// tests/ and installed there with <c>npm ci</c> on first use. Without Node.js and npm the tests that need them fail
/// and say what to install; they are never skipped.
/// </summary>
public static class NodePackages
{
    private const string MissingNode =
        "These tests run npm packages, which need Node.js (20 or newer) and npm on PATH. "
        + "Install them (Debian/Ubuntu: apt-get install nodejs npm) and run the tests again.";

    /// <summary>The folder tests/<paramref name="name"/> of the checkout, which holds a package-lock.json.</summary>
    public static string Find(string name)
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "tests", name);
            if (File.Exists(Path.Combine(candidate, "package-lock.json")))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException($"tests/{name}/package-lock.json was not found above {AppContext.BaseDirectory}.");
    }

    /// <summary>
    /// Runs <c>node</c> with <paramref name="args"/> in <paramref name="directory"/>: its exit code, everything it printed,
    /// and its standard output alone (for a report on stdout with notices on stderr).
    /// </summary>
    public static async Task<(int ExitCode, string Output, string StandardOutput)> RunNodeAsync(
        string directory, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        var output = new StringBuilder();
        var standardOutput = new StringBuilder();
        using var node = StartProcess(start, output, standardOutput);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            // Returns once the output streams are drained too.
            await node.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Stop(node);
            throw new InvalidOperationException($"node {string.Join(' ', args)} did not finish within 3 minutes. Its output:\n{output}");
        }

        return (node.ExitCode, output.ToString(), standardOutput.ToString());
    }

    /// <summary>
    /// Runs <c>npm ci</c> unless node_modules matches the committed lock file. A file lock serializes the
    /// install across test processes that start at once (in one process the Lazy already does).
    /// </summary>
    public static async Task EnsureInstalledAsync(string directory)
    {
        var lockFile = Path.Combine(directory, "package-lock.json");
        var expected = Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(lockFile)));
        var marker = Path.Combine(directory, "node_modules", ".ironauth-installed");
        if (IsInstalled(marker, expected))
        {
            return;
        }

        var lockPath = Path.Combine(Path.GetTempPath(), $"ironauth-npm-{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(directory)))[..16]}.lock");
        await using var installLock = await AcquireAsync(lockPath, TimeSpan.FromMinutes(10));
        if (IsInstalled(marker, expected))
        {
            return; // Another process installed it while this one waited.
        }

        var start = new ProcessStartInfo("npm")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "ci", "--no-audit", "--no-fund", "--loglevel=error" })
        {
            start.ArgumentList.Add(arg);
        }

        var output = new StringBuilder();
        using var npm = StartProcess(start, output);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        try
        {
            await npm.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Stop(npm);
            throw new InvalidOperationException($"npm ci in {directory} did not finish within 10 minutes. Its output:\n{output}");
        }

        if (npm.ExitCode != 0)
        {
            throw new InvalidOperationException($"npm ci in {directory} failed with exit code {npm.ExitCode}. Its output:\n{output}");
        }

        await File.WriteAllTextAsync(marker, expected);
    }

    private static bool IsInstalled(string marker, string lockHash) =>
        File.Exists(marker) && File.ReadAllText(marker) == lockHash;

    private static async Task<FileStream> AcquireAsync(string path, TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            try
            {
                // FileShare.None is an exclusive lock on the open file (flock on Unix), released when the stream closes.
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (Stopwatch.GetTimestamp() < deadline)
            {
                await Task.Delay(200);
            }
        }
    }

    public static Process StartProcess(ProcessStartInfo start, StringBuilder output, StringBuilder? standardOutput = null)
    {
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"{start.FileName} did not start.");
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException($"{MissingNode} ({start.FileName}: {e.Message})", e);
        }

        process.OutputDataReceived += (_, e) =>
        {
            Append(output, e.Data);
            if (standardOutput is not null)
            {
                Append(standardOutput, e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is not null)
        {
            lock (output)
            {
                output.AppendLine(line);
            }
        }
    }

    public static void Stop(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

}
