using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace IronAuth.Api.Http;

/// <summary>Reads request bodies: JSON only, size-limited, and every defect a 4xx problem.</summary>
public static class JsonBody
{
    /// <summary>No IronAuth request needs more; larger bodies are refused with 413 before parsing.</summary>
    public const int MaxBytes = 64 * 1024;

    public static async ValueTask<(T? Value, IResult? Problem)> ReadAsync<T>(HttpRequest request, bool optional = false)
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

        // The body is read from Kestrel's own buffers (no copy for the usual one-segment body) up to the limit.
        var reader = request.BodyReader;
        var aborted = request.HttpContext.RequestAborted;
        var result = await reader.ReadAsync(aborted);
        while (!result.IsCompleted && result.Buffer.Length <= MaxBytes)
        {
            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
            result = await reader.ReadAsync(aborted);
        }

        var body = result.Buffer;
        try
        {
            if (body.Length > MaxBytes)
            {
                return (null, TooLarge());
            }

            if (body.Length == 0)
            {
                return optional ? (null, null) : (null, Problems.Validation("A JSON request body is required."));
            }

            var value = body.IsSingleSegment
                ? JsonSerializer.Deserialize<T>(body.FirstSpan, ApiJson.Options)
                : JsonSerializer.Deserialize<T>(body.ToArray(), ApiJson.Options);
            return value is null ? (null, Problems.Validation("The request body must be a JSON object.")) : (value, null);
        }
        catch (JsonException e)
        {
            // System.Text.Json's messages name the JSON path and position, never the offending value.
            return (null, Problems.Validation($"The request body is not valid: {e.Message}"));
        }
        finally
        {
            reader.AdvanceTo(body.End);
        }
    }

    private static IResult TooLarge() => Problems.Create(
        StatusCodes.Status413PayloadTooLarge, "payload_too_large", $"The request body must be at most {MaxBytes} bytes.");
}
