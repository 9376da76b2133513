using System.Text;
using IronAuth.Server.Cli;

return await IronAuthCli.RunAsync(
    args,
    Console.In,
    Console.Out,
    Console.Error,
    new CliEnvironment { ReadSecret = Console.IsInputRedirected ? null : ReadWithoutEcho });

// Reads a line from the terminal without showing it; null on end of input (Ctrl+D on an empty line).
static string? ReadWithoutEcho(string prompt)
{
    Console.Error.Write(prompt);
    var line = new StringBuilder();
    while (true)
    {
        var key = Console.ReadKey(intercept: true);
        if (key.Key == ConsoleKey.Enter)
        {
            Console.Error.WriteLine();
            return line.ToString();
        }

        if (key.Key == ConsoleKey.Backspace)
        {
            line.Length = Math.Max(0, line.Length - 1);
        }
        else if (key.KeyChar == '\u0004' && line.Length == 0)
        {
            Console.Error.WriteLine();
            return null;
        }
        else if (!char.IsControl(key.KeyChar))
        {
            line.Append(key.KeyChar);
        }
    }
}
