using System.Globalization;
using IronAuth.Core;
using Microsoft.AspNetCore.Http;

namespace IronAuth.Api.Http;

/// <summary>The <c>limit</c> and <c>cursor</c> query parameters shared by every listing.</summary>
public static class Paging
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;

    public static bool TryRead(HttpRequest request, out int limit, out string? position, out IResult? problem)
    {
        limit = DefaultLimit;
        position = null;
        problem = null;
        var rawLimit = request.Query["limit"].ToString();
        if (rawLimit.Length > 0
            && (!int.TryParse(rawLimit, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > MaxLimit))
        {
            problem = Problems.Validation($"limit must be an integer from 1 to {MaxLimit}.");
            return false;
        }

        if (!Cursor.TryDecode(request.Query["cursor"].ToString(), out position))
        {
            problem = Problems.Validation("cursor is not one this server issued; pass back next_cursor unchanged.");
            return false;
        }

        return true;
    }

    public static string? NextCursor(string? next) => next is null ? null : Cursor.Encode(next);
}
