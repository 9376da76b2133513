namespace IronAuth.Server.Cli;

/// <summary>Plain aligned columns under a header row; --json is the format for programs.</summary>
internal static class TextTable
{
    private const string Gap = "  ";

    public static void Write(TextWriter output, IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows)
    {
        var lines = rows.Prepend(headers).ToList();
        var widths = headers.Select((_, column) => lines.Max(line => line[column].Length)).ToArray();
        foreach (var line in lines)
        {
            output.WriteLine(string.Join(Gap, line.Select((cell, column) => cell.PadRight(widths[column]))).TrimEnd());
        }
    }

    public static void WritePairs(TextWriter output, IReadOnlyList<(string Name, string Value)> pairs)
    {
        var width = pairs.Max(p => p.Name.Length);
        foreach (var (name, value) in pairs)
        {
            output.WriteLine(name.PadRight(width) + Gap + value);
        }
    }
}
