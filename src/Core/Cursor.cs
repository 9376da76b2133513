using System.Buffers.Text;
using System.Text;

namespace IronAuth.Core;

/// <summary>Opaque page cursors: callers hand back what they were given and nothing else.</summary>
public static class Cursor
{
    public static string Encode(string position) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(position));

    /// <summary>Decodes a cursor; false when it was not made by <see cref="Encode"/>.</summary>
    public static bool TryDecode(string? cursor, out string? position)
    {
        position = null;
        if (string.IsNullOrEmpty(cursor))
        {
            return true;
        }

        if (cursor.Length > 200 || !Base64Url.IsValid(cursor))
        {
            return false;
        }

        try
        {
            position = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(cursor));
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
