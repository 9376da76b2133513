using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;

namespace IronAuth.Api.Http;

/// <summary>
/// 200 with a JSON body written by the source generator's serializer for <typeparamref name="T"/>
/// (<see cref="JsonTypeInfo{T}.SerializeHandler"/>, <see cref="ApiJsonContext"/>): the same bytes as
/// <c>TypedResults.Ok</c> writes through ASP.NET Core's options (snake_case, nulls written, relaxed escaping), without
/// the converter machinery — System.Text.Json uses the generated fast path only with the context's own options, and
/// ASP.NET Core's carry an encoder, so the writer here is given that encoder instead. For the answers every request of
/// a gateway waits for (issue 17: <c>/tokens/verify</c>, <c>/auth/me</c>); <c>GeneratedJsonResultTests</c> holds the
/// bytes equal. The body is sent with a Content-Length, in one write with the headers.
/// </summary>
public sealed class GeneratedJsonResult<T>(T value, JsonTypeInfo<T> typeInfo) : IResult
{
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    // Each thread's buffer and writer, reused: the body is serialized whole before anything is sent, so that it goes out
    // with a Content-Length (not chunked) in one write with the headers. Serializing is synchronous, so a thread's pair
    // is never in use by two responses at once.
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? writer;

    // A buffer grown past this by an unusually large answer is not kept.
    private const int MaxKeptBuffer = 64 * 1024;

    public Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json; charset=utf-8";
        var body = buffer ??= new ArrayBufferWriter<byte>(1024);
        var json = writer ??= new Utf8JsonWriter(body, WriterOptions);
        body.ResetWrittenCount();
        json.Reset(body);
        Write(json, value, typeInfo);
        json.Flush();
        response.ContentLength = body.WrittenCount;
        response.BodyWriter.Write(body.WrittenSpan);
        if (body.Capacity > MaxKeptBuffer)
        {
            (buffer, writer) = (null, null);
        }

        var flushed = response.BodyWriter.FlushAsync(httpContext.RequestAborted);
        return flushed.IsCompletedSuccessfully ? Task.CompletedTask : flushed.AsTask();
    }

    /// <summary>Writes <paramref name="value"/> with the generated serializer, or the metadata-based one where none was generated.</summary>
    internal static void Write(Utf8JsonWriter writer, T value, JsonTypeInfo<T> typeInfo)
    {
        if (typeInfo.SerializeHandler is { } handler)
        {
            handler(writer, value);
        }
        else
        {
            JsonSerializer.Serialize(writer, value, typeInfo);
        }
    }
}
