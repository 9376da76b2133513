using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace IronAuth.Core.Email;

/// <summary>
/// The messages IronAuth sends, from templates: for each kind a plain-text one (<c>KIND.txt</c>, whose first line is
/// <c>Subject: …</c>) and an HTML one (<c>KIND.html</c>). Placeholders are <c>{{name}}</c>; values are HTML-encoded
/// in the HTML body. A file of the same name in <see cref="EmailOptions.TemplateDirectory"/> replaces the built-in
/// template, read once at start.
/// </summary>
public sealed partial class EmailTemplates
{
    public const string VerifyEmail = "verify-email";
    public const string PasswordReset = "password-reset";

    private static readonly Dictionary<string, (string Text, string Html)> BuiltIn = new()
    {
        [VerifyEmail] = (
            """
            Subject: Your {{service_name}} verification code is {{code}}

            Enter this code to verify your email address for {{service_name}}:

                {{code}}

            It works once and expires in {{expires_minutes}} minutes. If you did not sign up, ignore this message.
            """,
            """
            <!DOCTYPE html>
            <html><body style="font-family:sans-serif">
            <p>Enter this code to verify your email address for {{service_name}}:</p>
            <p style="font-size:24px;letter-spacing:4px"><strong>{{code}}</strong></p>
            <p>It works once and expires in {{expires_minutes}} minutes. If you did not sign up, ignore this message.</p>
            </body></html>
            """),
        [PasswordReset] = (
            """
            Subject: Reset your {{service_name}} password

            Someone asked to reset the password of your {{service_name}} account. To choose a new one, use this
            one-time reset token (it expires in {{expires_minutes}} minutes):

                {{reset_token}}

            If it was not you, ignore this message: your password stays as it is.
            """,
            """
            <!DOCTYPE html>
            <html><body style="font-family:sans-serif">
            <p>Someone asked to reset the password of your {{service_name}} account. To choose a new one, use this
            one-time reset token (it expires in {{expires_minutes}} minutes):</p>
            <p><code>{{reset_token}}</code></p>
            <p>If it was not you, ignore this message: your password stays as it is.</p>
            </body></html>
            """),
    };

    private readonly Dictionary<string, (string Subject, string Text, string Html)> templates;
    private readonly string serviceName;

    public EmailTemplates(IOptions<EmailOptions> options)
    {
        var settings = options.Value;
        serviceName = settings.ServiceName;
        templates = BuiltIn.ToDictionary(
            t => t.Key,
            t =>
            {
                var text = Override(settings.TemplateDirectory, t.Key + ".txt") ?? t.Value.Text;
                var html = Override(settings.TemplateDirectory, t.Key + ".html") ?? t.Value.Html;
                var (subject, body) = SplitSubject(text, t.Key);
                return (subject, body, html);
            });
    }

    /// <summary>The message of <paramref name="kind"/> to <paramref name="to"/>, with the service name and these values filled in.</summary>
    public EmailMessage Render(string kind, string to, params (string Name, string Value)[] values)
    {
        var (subject, text, html) = templates[kind];
        var all = values.Append(("service_name", serviceName)).ToDictionary(v => v.Item1, v => v.Item2, StringComparer.Ordinal);
        return new EmailMessage(
            to,
            kind,
            Fill(subject, all, encode: false).ReplaceLineEndings(" "),
            Fill(text, all, encode: false),
            Fill(html, all, encode: true));
    }

    private static string Fill(string template, Dictionary<string, string> values, bool encode) =>
        Placeholder().Replace(template, m => values.TryGetValue(m.Groups[1].Value, out var value)
            ? encode ? WebUtility.HtmlEncode(value) : value
            : m.Value);

    private static (string Subject, string Body) SplitSubject(string text, string kind)
    {
        var lines = text.ReplaceLineEndings("\n").Split('\n', 2);
        if (!lines[0].StartsWith("Subject:", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"The email template {kind}.txt must start with a 'Subject: …' line.");
        }

        return (lines[0]["Subject:".Length..].Trim(), lines.Length > 1 ? lines[1].TrimStart('\n') : "");
    }

    private static string? Override(string? directory, string file) =>
        directory is not null && Path.Combine(directory, file) is var path && File.Exists(path) ? File.ReadAllText(path) : null;

    [GeneratedRegex(@"\{\{([a-z_]+)\}\}")]
    private static partial Regex Placeholder();
}
