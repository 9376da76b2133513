namespace IronAuth.Core.Storage.Sqlite;

/// <summary>
/// Keeps the database file and its companions (<c>-wal</c>, <c>-shm</c>, <c>-journal</c>) readable by their owner
/// only. They hold everything the store holds, the generated signing key among it: with the usual umask SQLite would
/// create them 0644, and anyone on the machine who can read them can forge any token.
/// </summary>
/// <remarks>
/// SQLite creates the companions with the permissions of the database file, so creating that file owner-only (0600)
/// before SQLite first opens it is enough for new stores; files left more open by an earlier version are narrowed.
/// Windows has no such mode bits (its ACLs are inherited from the folder) and is left alone.
/// </remarks>
internal static class SqliteFiles
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private const UnixFileMode GroupAndOthers =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    private static readonly string[] Companions = ["", "-wal", "-shm", "-journal"];

    public static void Secure(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        if (path.Length == 0 || path == ":memory:" || path.StartsWith("file:", StringComparison.Ordinal))
        {
            return;
        }

        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!File.Exists(path) && Directory.Exists(directory))
        {
            try
            {
                // An empty file is an empty SQLite database; SQLite writes the header on the first write.
                using var created = new FileStream(path, new FileStreamOptions
                {
                    Mode = FileMode.CreateNew,
                    Access = FileAccess.Write,
                    UnixCreateMode = OwnerOnly,
                });
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another process created it first; it is narrowed below like any existing file.
            }
        }

        foreach (var suffix in Companions)
        {
            var file = path + suffix;
            try
            {
                var mode = File.GetUnixFileMode(file);
                if ((mode & GroupAndOthers) != 0)
                {
                    File.SetUnixFileMode(file, mode & ~GroupAndOthers);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Absent, or owned by another account that this process may not change: nothing to narrow here.
            }
        }
    }
}
