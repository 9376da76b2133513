using System.Collections;
using System.Collections.Frozen;

namespace IronAuth.Core.Users;

/// <summary>
/// A set of permission names that also keeps them in ordinal order for the answers that list them (<c>/auth/me</c>,
/// <c>/tokens/verify</c>, introspection). Built once per role and once per checked token, not on every request.
/// </summary>
public sealed class ScopeSet : IReadOnlySet<string>
{
    private readonly FrozenSet<string> set;

    public ScopeSet(IEnumerable<string> scopes)
    {
        set = scopes.ToFrozenSet(StringComparer.Ordinal);
        Ordered = [.. set.Order(StringComparer.Ordinal)];
    }

    /// <summary>The scopes in ordinal order.</summary>
    public IReadOnlyList<string> Ordered { get; }

    public int Count => set.Count;

    public bool Contains(string item) => set.Contains(item);

    public bool IsProperSubsetOf(IEnumerable<string> other) => set.IsProperSubsetOf(other);

    public bool IsProperSupersetOf(IEnumerable<string> other) => set.IsProperSupersetOf(other);

    public bool IsSubsetOf(IEnumerable<string> other) => set.IsSubsetOf(other);

    public bool IsSupersetOf(IEnumerable<string> other) => set.IsSupersetOf(other);

    public bool Overlaps(IEnumerable<string> other) => set.Overlaps(other);

    public bool SetEquals(IEnumerable<string> other) => set.SetEquals(other);

    public IEnumerator<string> GetEnumerator() => Ordered.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
