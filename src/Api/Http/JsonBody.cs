using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace IronAuth.Api.Http;

/// <summary>Reads request bodies: JSON only, size-limited, and every defect a 4xx problem.</summary>
public static class JsonBody
{
    /// <summary>No IronAuth request needs more; larger bodies are refused with 413 before parsing.</summary>
    public const int MaxBytes = 64 * 1024;

    public static async Task<(T? Value, IResult? Problem)> ReadAsync<T>(HttpRequest request, bool optional = false)
        where T : class
    {
        if (request.ContentLength > MaxBytes)
        {
            return (null, TooLarge());
        }

        if (optional && request.ContentLength is null or 0 && !request.Headers.TransferEncoding.Any())
        {
            return (null, null);
        }

        if (!request.HasJsonContentType())
        {
            return (null, Problems.Create(StatusCodes.Status415UnsupportedMediaType, "unsupported_media_type",
                "The request body must be JSON, sent with Content-Type: application/json."));
        }

        var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted)) > 0)
        {
            if (buffer.Length + read > MaxBytes)
            {
                return (null, TooLarge());
            }

            buffer.Write(chunk, 0, read);
        }

        if (buffer.Length == 0)
        {
            return optional ? (null, null) : (null, Problems.Validation("A JSON request body is required."));
        }

        try
        {
            var value = JsonSerializer.Deserialize<T>(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), ApiJson.Options);
            return value is null ? (null, Problems.Validation("The request body must be a JSON object.")) : (value, null);
        }
        catch (JsonException e)
        {
            // System.Text.Json's messages name the JSON path and position, never the offending value.
            return (null, Problems.Validation($"The request body is not valid: {e.Message}"));
        }
    }

    private static IResult TooLarge() => Problems.Create(
        StatusCodes.Status413PayloadTooLarge, "payload_too_large", $"The request body must be at most {MaxBytes} bytes.");
}
