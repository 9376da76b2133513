using System.Text.Json.Nodes;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace IronAuth.Api.Http;

/// <summary>
/// What the OpenAPI generator cannot infer from handlers that take the raw request, added so that linters (Redocly's
/// recommended rules) and client generators get the API right: security per operation, query parameters, the problem
/// schema's <c>code</c> and <c>trace_id</c>, enums, decimal money, throttling responses and headers, tags.
/// </summary>
internal static class ApiDocumentTransforms
{
    public const string BearerScheme = "bearer";
    public const string ClientScheme = "client";

    /// <summary>Tags by the first segment of a route, with the description each carries in the document.</summary>
    private static readonly (string Tag, string Description)[] Tags =
    [
        ("Sessions", "Sign-in with a password, refresh-token rotation, logout, the caller, the signing keys."),
        ("OAuth 2.0", "OpenID discovery and the RFC 6749 / 7662 / 7009 endpoints: form-encoded, RFC 6749 error objects."),
        ("Users", "Accounts, roles, suspension, passwords."),
        ("API tokens", "Issue, list, revoke, verify and meter API tokens."),
        ("Audit", "The append-only audit log."),
        ("Signing keys", "The keys that sign access tokens: listing and rotation without logouts (admin)."),
        ("Service", "Health and this document."),
    ];

    public static string TagOf(ApiRoute route) => route.Route.Split('/')[0] switch
    {
        "auth" => "Sessions",
        "oauth" or ".well-known" => "OAuth 2.0",
        "users" when route.Route.EndsWith("/audit", StringComparison.Ordinal) => "Audit",
        "users" => "Users",
        "tokens" => "API tokens",
        "audit" => "Audit",
        "keys" => "Signing keys",
        _ => "Service",
    };

    private static readonly Dictionary<string, string[]> Enums = new(StringComparer.Ordinal)
    {
        ["role"] = ["admin", "user", "viewer"],
        ["status"] = ["active", "suspended", "deleted"],
        ["auth_method"] = ["session", "api_token"],
        ["exhausted"] = ["none", "daily_requests", "daily_tokens", "daily_cost"],
        ["state"] = ["active", "revoked", "expired"],
    };

    // The verdict codes of /api/tokens/verify (TokenVerdict.ToWire), the one "code" that is not a problem's.
    private static readonly string[] VerdictCodes = [.. Enum.GetValues<Core.Tokens.VerdictCode>().Select(Core.Tokens.TokenVerdict.ToWire)];

    public static Task DocumentAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Info = new OpenApiInfo
        {
            Title = "IronAuth",
            Version = ApiInfo.Version,
            Description = "Users, sessions and API tokens. Errors are application/problem+json with a stable `code` "
                + "(the OAuth 2.0 endpoints answer RFC 6749 error objects instead).",
        };
        // Relative: the API is wherever this document was fetched from (its paths carry the /api prefix).
        document.Servers = [new OpenApiServer { Url = "/", Description = "The host serving this document" }];
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            Description = "An access JWT (from /api/auth/login or /api/oauth/token), or an API token (iron_…).",
        };
        document.Components.SecuritySchemes[ClientScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "basic",
            Description = "An OAuth client: an API token's id as the user name and the token as the password (or as client_id and client_secret form fields).",
        };
        document.Security = [Requirement(document, BearerScheme)];
        document.Tags = new HashSet<OpenApiTag>(Tags.Select(t => new OpenApiTag { Name = t.Tag, Description = t.Description }));
        return Task.CompletedTask;
    }

    public static Task OperationAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var metadata = context.Description.ActionDescriptor.EndpointMetadata;
        var callers = metadata.OfType<ApiCallersMetadata>().LastOrDefault()?.Callers ?? ApiCallers.Bearer;
        if (callers != ApiCallers.Bearer)
        {
            var document = context.Document!;
            operation.Security = [];
            if (callers.HasFlag(ApiCallers.Anyone))
            {
                operation.Security.Add(new OpenApiSecurityRequirement());
            }

            if (callers.HasFlag(ApiCallers.Client))
            {
                operation.Security.Add(Requirement(document, ClientScheme));
            }

            if (callers.HasFlag(ApiCallers.Bearer))
            {
                operation.Security.Add(Requirement(document, BearerScheme));
            }
        }

        foreach (var query in metadata.OfType<ApiQueryParameter>())
        {
            operation.Parameters ??= [];
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = query.Name,
                In = ParameterLocation.Query,
                Description = query.Description,
                Schema = new OpenApiSchema
                {
                    Type = query.Type == "integer" ? JsonSchemaType.Integer : JsonSchemaType.String,
                    Enum = query.Enum?.Select(e => (JsonNode)JsonValue.Create(e)).ToList(),
                    Minimum = query.Minimum?.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    Maximum = query.Maximum?.ToString(System.Globalization.CultureInfo.InvariantCulture),
                },
            });
        }

        operation.Responses ??= [];
        // Any call with an API token may meet its bucket or quota.
        if (callers.HasFlag(ApiCallers.Bearer) && !operation.Responses.ContainsKey("429"))
        {
            operation.Responses["429"] = Problem("Too Many Requests", context.Document);
        }

        foreach (var (status, response) in operation.Responses)
        {
            if (status == "429" && response is OpenApiResponse throttled)
            {
                throttled.Headers ??= new Dictionary<string, IOpenApiHeader>();
                throttled.Headers["Retry-After"] = Header("Seconds to wait before trying again.", JsonSchemaType.Integer);
            }

            if (status == "201" && response is OpenApiResponse created)
            {
                created.Headers ??= new Dictionary<string, IOpenApiHeader>();
                created.Headers["Location"] = Header("The URL of what was created.", JsonSchemaType.String);
            }

            if (status.StartsWith('2') && callers.HasFlag(ApiCallers.Bearer) && response is OpenApiResponse ok)
            {
                ok.Headers ??= new Dictionary<string, IOpenApiHeader>();
                ok.Headers["RateLimit-Policy"] = Header("With an API token: its bucket, `\"bucket\";q=<capacity>;w=<seconds to fill>` (IETF draft).", JsonSchemaType.String);
                ok.Headers["RateLimit"] = Header("With an API token: `\"bucket\";r=<left>;t=<seconds until full>` (IETF draft).", JsonSchemaType.String);
            }
        }

        if (operation.RequestBody is not null && !operation.Responses.ContainsKey("415"))
        {
            operation.Responses["415"] = Problem("Unsupported Media Type", context.Document);
        }

        return Task.CompletedTask;
    }

    public static Task SchemaAsync(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        var type = context.JsonTypeInfo.Type;
        if (type == typeof(Microsoft.AspNetCore.Mvc.ProblemDetails))
        {
            // What every problem IronAuth writes carries besides RFC 9457's members (see Problems).
            schema.Properties ??= new Dictionary<string, IOpenApiSchema>();
            schema.Properties["code"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "Stable machine-readable code, e.g. invalid_credentials, rate_limited." };
            schema.Properties["trace_id"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "The request's trace id, to find it in the logs." };
            schema.Required ??= new HashSet<string>();
            schema.Required.Add("code");
        }

        // Money is an exact decimal with up to six places: a generator must not make it a binary double.
        if (type == typeof(decimal) || type == typeof(decimal?))
        {
            schema.Format = "decimal";
        }

        // A default makes generators treat a field as always present (openapi-typescript types it as required);
        // absent means "the default" here, which the descriptions say.
        schema.Default = null;
        if (context.JsonPropertyInfo is { } property && type == typeof(string)
            && (property.Name == "code" && property.DeclaringType == typeof(Contracts.VerifyTokenResponse) ? VerdictCodes : Enums.GetValueOrDefault(property.Name)) is { } values)
        {
            // A nullable string's enum must list null too, or null would not validate against it.
            var nullable = schema.Type is { } t && t.HasFlag(JsonSchemaType.Null);
            schema.Enum = [.. values.Select(v => (JsonNode)JsonValue.Create(v)), .. nullable ? new JsonNode[] { null! } : []];
        }

        return Task.CompletedTask;
    }

    private static OpenApiResponse Problem(string description, OpenApiDocument? document) => new()
    {
        Description = description,
        Content = new Dictionary<string, OpenApiMediaType>
        {
            ["application/problem+json"] = new() { Schema = new OpenApiSchemaReference("ProblemDetails", document) },
        },
    };

    private static OpenApiSecurityRequirement Requirement(OpenApiDocument document, string scheme) =>
        new() { [new OpenApiSecuritySchemeReference(scheme, document)] = [] };

    private static OpenApiHeader Header(string description, JsonSchemaType type) =>
        new() { Description = description, Schema = new OpenApiSchema { Type = type } };
}
