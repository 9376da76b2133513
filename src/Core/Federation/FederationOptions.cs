using System.Net;
using Microsoft.Extensions.Options;

namespace IronAuth.Core.Federation;

/// <summary>Sign-in with OpenID providers (<c>IronAuth:Federation</c>).</summary>
public sealed class FederationOptions
{
    public const string SectionName = "IronAuth:Federation";

    /// <summary>The Authority a provider named <c>google</c> gets when it sets none.</summary>
    public const string GoogleAuthority = "https://accounts.google.com";

    /// <summary>By the name clients send as <c>provider</c> (compared case-insensitively).</summary>
    public Dictionary<string, FederationProvider> Providers { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}

public sealed class FederationProvider
{
    /// <summary>The issuer; its discovery document is at Authority + <c>/.well-known/openid-configuration</c>.</summary>
    public string? Authority { get; set; }

    /// <summary>The client id IronAuth's users sign in through: the ID token's <c>aud</c> must be it.</summary>
    public string? ClientId { get; set; }

    /// <summary>Create an account on a first sign-in (also when <c>IronAuth:Registration:Enabled</c>).</summary>
    public bool CreateUsers { get; set; }

    /// <summary>Link a first sign-in to the existing account with the same email, when the provider says it is verified.</summary>
    public bool LinkByEmail { get; set; }

    public string EffectiveAuthority(string name) =>
        (Authority ?? (name.Equals("google", StringComparison.OrdinalIgnoreCase) ? FederationOptions.GoogleAuthority : "")).TrimEnd('/');
}

public sealed class FederationOptionsValidator : IValidateOptions<FederationOptions>
{
    /// <summary>The longest provider name: with "-" and 10 hex digits it is a username of at most 64 characters.</summary>
    public const int MaxProviderName = 53;

    public ValidateOptionsResult Validate(string? name, FederationOptions options)
    {
        var errors = new List<string>();
        foreach (var (provider, settings) in options.Providers)
        {
            var prefix = $"IronAuth:Federation:Providers:{provider}";
            // The name starts the usernames of the accounts it creates ("{provider}-{10 hex digits}"), so it obeys the
            // username rules with room for the suffix: a name that could not would claim a link and never an account.
            if (provider.Length is 0 or > MaxProviderName || !char.IsAsciiLetterOrDigit(provider[0]) || !provider.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                errors.Add($"{prefix}: a provider name is 1 to {MaxProviderName} ASCII letters, digits, - or _, starting with a letter or digit.");
            }

            if (!Uri.TryCreate(settings.EffectiveAuthority(provider), UriKind.Absolute, out var authority)
                || !(authority.Scheme == Uri.UriSchemeHttps || (authority.Scheme == Uri.UriSchemeHttp && IsLoopback(authority))))
            {
                errors.Add($"{prefix}:Authority must be an absolute https URL (http only on loopback) (was '{settings.Authority}').");
            }

            if (string.IsNullOrWhiteSpace(settings.ClientId))
            {
                errors.Add($"{prefix}:ClientId must be set: ID tokens are accepted only for this audience.");
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static bool IsLoopback(Uri uri) =>
        uri.IsLoopback || (IPAddress.TryParse(uri.Host, out var address) && IPAddress.IsLoopback(address));
}
