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
/// bytes equal.
/// </summary>
public sealed class GeneratedJsonResult<T>(T value, JsonTypeInfo<T> typeInfo) : IResult
{
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json; charset=utf-8";
        await using (var writer = new Utf8JsonWriter(response.BodyWriter, WriterOptions))
        {
            Write(writer, value, typeInfo);
        }

        await response.BodyWriter.FlushAsync(httpContext.RequestAborted);
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
