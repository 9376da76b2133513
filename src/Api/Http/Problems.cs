using System.Globalization;
using IronAuth.Core;
using Microsoft.AspNetCore.Http;

namespace IronAuth.Api.Http;

/// <summary>Turns expected failures into RFC 9457 problem responses with a stable <c>code</c>.</summary>
public static class Problems
{
    public static IResult For(HttpContext context, Failure failure)
    {
        var status = StatusOf(failure.Kind);
        WriteRetryAfter(context.Response, failure);

        if (status == StatusCodes.Status401Unauthorized)
        {
            // RFC 6750 §3: error="invalid_token" answers a bearer token that was presented and refused. A 401 without
            // one (no Authorization header, or a failed sign-in or refresh, whose credentials are in the body) carries
            // the bare challenge, so a client does not throw away a good access token it never sent.
            context.Response.Headers.WWWAuthenticate = failure.Code == "invalid_token"
                ? $"Bearer error=\"invalid_token\", error_description=\"{failure.Detail}\""
                : "Bearer";
        }
        else if (status == StatusCodes.Status403Forbidden && failure.Code == "forbidden"
            && context.Request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            // RFC 6750 §3.1: the bearer token was good but does not reach this (scope or role).
            context.Response.Headers.WWWAuthenticate = $"Bearer error=\"insufficient_scope\", error_description=\"{failure.Detail}\"";
        }

        return failure.Extensions is null ? Create(status, failure.Code, failure.Detail) : Create(status, failure.Code, failure.Detail, failure.Extensions);
    }

    /// <summary>The failure's Retry-After, if it has one, in whole seconds rounded up (never 0: "now" would invite a spin).</summary>
    public static void WriteRetryAfter(HttpResponse response, Failure failure)
    {
        if (failure.RetryAfter is { } retryAfter)
        {
            response.Headers.RetryAfter = Math.Max(1, (long)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        }
    }

    public static IResult Create(int status, string code, string detail) =>
        TypedResults.Problem(
            detail: detail,
            statusCode: status,
            title: TitleOf(status),
            extensions: new Dictionary<string, object?> { ["code"] = code });

    private static IResult Create(int status, string code, string detail, IReadOnlyDictionary<string, string> extensions) =>
        TypedResults.Problem(
            detail: detail,
            statusCode: status,
            title: TitleOf(status),
            extensions: extensions.Select(e => KeyValuePair.Create(e.Key, (object?)e.Value)).Append(KeyValuePair.Create("code", (object?)code)).ToDictionary());

    public static IResult Validation(string detail) => Create(StatusCodes.Status400BadRequest, "validation_failed", detail);

    public static int StatusOf(FailureKind kind) => kind switch
    {
        FailureKind.Validation => StatusCodes.Status400BadRequest,
        FailureKind.Unauthorized => StatusCodes.Status401Unauthorized,
        FailureKind.Forbidden => StatusCodes.Status403Forbidden,
        FailureKind.NotFound => StatusCodes.Status404NotFound,
        FailureKind.Conflict => StatusCodes.Status409Conflict,
        FailureKind.TooManyRequests => StatusCodes.Status429TooManyRequests,
        FailureKind.Unavailable => StatusCodes.Status503ServiceUnavailable,
        FailureKind.PaymentRequired => StatusCodes.Status402PaymentRequired,
        _ => StatusCodes.Status500InternalServerError,
    };

    /// <summary>The code for a problem the framework raised rather than a handler.</summary>
    public static string CodeOf(int status) => status switch
    {
        400 => "validation_failed",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        429 => "rate_limited",
        503 => "unavailable",
        _ => "internal_error",
    };

    public static string DefaultDetailOf(int status) => status switch
    {
        404 => "No resource exists at this path.",
        405 => "This path does not accept this HTTP method.",
        413 => "The request body is too large.",
        415 => "The request body's Content-Type is not what this endpoint takes: application/json, or application/x-www-form-urlencoded for the OAuth endpoints.",
        >= 500 => "The server failed to handle the request; the failure has been logged.",
        _ => "The request could not be handled.",
    };

    private static string TitleOf(int status) => status switch
    {
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Error",
    };
}

public static class ResultExtensions
{
    /// <summary>The success mapped by <paramref name="ok"/>, or the failure as a problem response.</summary>
    public static IResult ToHttp<T>(this Result<T> result, HttpContext context, Func<T, IResult> ok) =>
        result.Failure is { } failure ? Problems.For(context, failure) : ok(result.Value!);
}
