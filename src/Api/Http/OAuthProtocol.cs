using System.Net;
using System.Text;
using IronAuth.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;

namespace IronAuth.Api.Http;

/// <summary>An OAuth 2.0 request's parameters (form-encoded) and the client credentials it carried, if any.</summary>
public sealed record OAuthRequest(IReadOnlyDictionary<string, string> Parameters, string? ClientId, string? ClientSecret)
{
    public string? this[string name] => Parameters.GetValueOrDefault(name);
}

/// <summary>
/// The OAuth 2.0 edge: form-encoded requests (RFC 6749 §3.2), client authentication by HTTP Basic or form fields
/// (§2.3.1), and error objects (§5.2) rather than problem+json. Everything here is syntax; the grants live in Core.
/// </summary>
public static class OAuthProtocol
{
    private const int MaxBytes = 16 * 1024;

    /// <summary>The request, or an RFC 6749 error response to return as is.</summary>
    public static async ValueTask<(OAuthRequest? Request, IResult? Error)> ReadAsync(HttpRequest request)
    {
        if (request.ContentLength > MaxBytes)
        {
            return (null, Error(StatusCodes.Status413PayloadTooLarge, "invalid_request", "The request body is too large."));
        }

        if (!request.HasFormContentType || request.ContentType?.StartsWith("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase) != true)
        {
            // The same 415 problem the server's routing gives (the route declares its content type), on either host.
            return (null, Problems.Create(StatusCodes.Status415UnsupportedMediaType, "unsupported_media_type", Problems.DefaultDetailOf(StatusCodes.Status415UnsupportedMediaType)));
        }

        // A chunked body has no Content-Length to check up front: the server stops reading it at the limit instead.
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodyLimit)
        {
            bodyLimit.MaxRequestBodySize = MaxBytes;
        }

        IFormCollection form;
        try
        {
            form = await request.ReadFormAsync(request.HttpContext.RequestAborted);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, Error(StatusCodes.Status413PayloadTooLarge, "invalid_request", "The request body is too large."));
        }
        catch (Exception e) when (e is InvalidDataException or IOException or BadHttpRequestException)
        {
            return (null, Error(StatusCodes.Status400BadRequest, "invalid_request", "The form body could not be read."));
        }

        var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, values) in form)
        {
            // §3.2: request parameters must not be included more than once.
            if (values.Count != 1)
            {
                return (null, Error(StatusCodes.Status400BadRequest, "invalid_request", $"The parameter '{name}' must be given exactly once."));
            }

            parameters[name] = values.ToString();
        }

        var (basicId, basicSecret, malformed) = ReadBasic(request.Headers.Authorization);
        if (malformed)
        {
            return (null, InvalidClient("The Authorization header is not valid HTTP Basic credentials."));
        }

        var postedSecret = parameters.GetValueOrDefault("client_secret");
        // §2.3: a client must not use more than one authentication method in a request.
        if (basicId is not null && postedSecret is not null)
        {
            return (null, Error(StatusCodes.Status400BadRequest, "invalid_request", "Send client credentials in the Authorization header or the body, not both."));
        }

        var clientId = basicId ?? parameters.GetValueOrDefault("client_id");
        return (new OAuthRequest(parameters, clientId, basicSecret ?? postedSecret), null);
    }

    /// <summary>An RFC 6749 §5.2 error object; 401 <c>invalid_client</c> carries the Basic challenge.</summary>
    public static IResult Error(int status, string error, string description) =>
        TypedResults.Json(new OAuthError(error, description), ApiJson.Options, statusCode: status);

    public static IResult InvalidClient(string description) => new ChallengeResult(Error(StatusCodes.Status401Unauthorized, "invalid_client", description));

    /// <summary>An expected failure of a grant as the error object RFC 6749 §5.2 prescribes for it.</summary>
    public static IResult ErrorFor(HttpContext context, Failure failure)
    {
        Problems.WriteRetryAfter(context.Response, failure);
        return failure switch
        {
            { Code: "invalid_client" } => InvalidClient(failure.Detail),
            { Code: "invalid_scope" } => Error(StatusCodes.Status400BadRequest, "invalid_scope", failure.Detail),
            { Kind: FailureKind.Validation } => Error(StatusCodes.Status400BadRequest, "invalid_request", failure.Detail),
            // Not in RFC 6749's list, which has no throttling answer at the token endpoint; the status and Retry-After
            // are what clients act on, the code says which limit it was.
            { Kind: FailureKind.TooManyRequests } => Error(StatusCodes.Status429TooManyRequests, failure.Code, failure.Detail),
            { Kind: FailureKind.Unavailable } => Error(StatusCodes.Status503ServiceUnavailable, "temporarily_unavailable", failure.Detail),
            // The grant has no second step to carry an mfa_token to (docs/accounts.md): say where the sign-in can finish.
            { Code: "mfa_required" } => Error(StatusCodes.Status400BadRequest, "invalid_grant",
                "Two-factor sign-in is on for this account and the password grant has no second step: sign in with POST /api/auth/login, then /api/auth/mfa/verify."),
            // Wrong password, unknown user, suspended account, spent or unknown refresh token: the grant is invalid.
            _ => Error(StatusCodes.Status400BadRequest, "invalid_grant", failure.Detail),
        };
    }

    /// <summary>Splits a space-delimited <c>scope</c> parameter (RFC 6749 §3.3).</summary>
    public static IReadOnlyList<string> Scopes(string? scope) =>
        scope is null ? [] : scope.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    private static (string? Id, string? Secret, bool Malformed) ReadBasic(StringValues header)
    {
        var value = header.ToString();
        const string scheme = "Basic ";
        if (!value.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            return (null, null, false);
        }

        try
        {
            var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(value[scheme.Length..].Trim()));
            var colon = decoded.IndexOf(':', StringComparison.Ordinal);
            // §2.3.1: both parts are form-urlencoded before they are joined.
            return colon < 0
                ? (null, null, true)
                : (WebUtility.UrlDecode(decoded[..colon]), WebUtility.UrlDecode(decoded[(colon + 1)..]), false);
        }
        catch (FormatException)
        {
            return (null, null, true);
        }
    }

    /// <summary>RFC 6749 §5.2: a 401 for client authentication carries the challenge of the scheme the server takes.</summary>
    private sealed class ChallengeResult(IResult inner) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.WWWAuthenticate = "Basic realm=\"ironauth\", charset=\"UTF-8\"";
            return inner.ExecuteAsync(httpContext);
        }
    }
}

/// <summary>An RFC 6749 §5.2 error response.</summary>
public sealed record OAuthError(string Error, string ErrorDescription);
