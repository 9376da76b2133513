namespace IronAuth.Core;

/// <summary>
/// One page of a listing. <see cref="Next"/> is the store's position after the last item (null on the
/// last page); the HTTP edge hands it out only as an opaque <see cref="Cursor"/>.
/// </summary>
public sealed record Page<T>(IReadOnlyList<T> Items, string? Next)
{
    /// <summary>
    /// The page for a query that asked for <paramref name="limit"/> + 1 rows: the extra row only says there
    /// is more, and the position after the last kept row is where the next page starts.
    /// </summary>
    public static Page<T> FromOverfetch(List<T> rows, int limit, Func<T, string> position)
    {
        if (rows.Count <= limit)
        {
            return new Page<T>(rows, null);
        }

        rows.RemoveRange(limit, rows.Count - limit);
        return new Page<T>(rows, position(rows[^1]));
    }
}
