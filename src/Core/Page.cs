namespace IronAuth.Core;

/// <summary>
/// One page of a listing. <see cref="Next"/> is the store's position after the last item (null on the
/// last page); the HTTP edge hands it out only as an opaque <see cref="Cursor"/>.
/// </summary>
public sealed record Page<T>(IReadOnlyList<T> Items, string? Next);
