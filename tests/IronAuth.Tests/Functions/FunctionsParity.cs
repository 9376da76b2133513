using IronAuth.Api;
using IronAuth.Core.Configuration;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace IronAuth.Tests.Functions;

/// <summary>
/// Checks the source of src/Functions against <see cref="IronAuthRoutes.All"/> by syntax alone, without loading the
/// worker app (the end-to-end tests run it, under the stand-in host, in a process of its own).
/// Every route must have exactly one anonymous HTTP function with its method, route and name, whose whole body hands the
/// request (and id) to the handler the table names; the one timer function must run the maintenance job on the
/// configurable schedule. Anything else is reported.
/// </summary>
public static class FunctionsParity
{
    public static readonly string ScheduleExpression =
        $"%{IronAuthOptions.SectionName}:{nameof(IronAuthOptions.Maintenance)}:{nameof(MaintenanceOptions.Schedule)}%";

    public static IReadOnlyList<string> Check(IEnumerable<SyntaxTree> trees, IReadOnlyList<ApiRoute> routes)
    {
        var problems = new List<string>();
        var functions = trees
            .SelectMany(t => t.GetRoot().DescendantNodes().OfType<MethodDeclarationSyntax>())
            .Select(m => (Method: m, Name: FunctionName(m)))
            .Where(f => f.Name is not null)
            .ToList();

        foreach (var duplicate in functions.GroupBy(f => f.Name).Where(g => g.Count() > 1))
        {
            problems.Add($"Function name '{duplicate.Key}' is used {duplicate.Count()} times.");
        }

        var http = new List<(HttpFunction Function, MethodDeclarationSyntax Method)>();
        var timers = new List<MethodDeclarationSyntax>();
        foreach (var (method, name) in functions)
        {
            if (!method.Modifiers.Any(SyntaxKind.PublicKeyword))
            {
                problems.Add($"Function '{name}' must be public for the worker to index it.");
            }

            var triggers = method.ParameterList.Parameters
                .SelectMany(p => p.AttributeLists.SelectMany(l => l.Attributes).Select(a => (Parameter: p, Attribute: a, Name: SimpleName(a.Name))))
                .Where(t => t.Name.EndsWith("Trigger", StringComparison.Ordinal))
                .ToList();
            if (triggers.Count != 1)
            {
                problems.Add($"Function '{name}' has {triggers.Count} triggers; it needs exactly one.");
                continue;
            }

            switch (triggers[0].Name)
            {
                case "HttpTrigger":
                    var function = ReadHttpTrigger(name!, triggers[0].Attribute, problems);
                    if (function is not null)
                    {
                        http.Add((function, method));
                    }

                    break;
                case "TimerTrigger":
                    timers.Add(method);
                    CheckTimer(name!, method, triggers[0].Attribute, problems);
                    break;
                default:
                    problems.Add($"Function '{name}' has an unexpected trigger {triggers[0].Name}.");
                    break;
            }
        }

        foreach (var route in routes)
        {
            var matches = http.Where(f => f.Function.Method == route.Method && f.Function.Route == route.Route).ToList();
            if (matches.Count != 1)
            {
                problems.Add($"{route.Method} {route.Route} ({route.Name}) has {matches.Count} functions; it needs exactly one.");
                continue;
            }

            var (function, method) = matches[0];
            if (function.Name != route.Name)
            {
                problems.Add($"{route.Method} {route.Route}: function is named '{function.Name}', the route '{route.Name}'.");
            }

            CheckDelegation(function, method, route, problems);
        }

        foreach (var (function, _) in http.Where(f => !routes.Any(r => r.Method == f.Function.Method && r.Route == f.Function.Route)))
        {
            problems.Add($"Function '{function.Name}' ({function.Method} {function.Route}) matches no route in IronAuthRoutes.All.");
        }

        if (timers.Count != 1)
        {
            problems.Add($"There are {timers.Count} timer functions; maintenance needs exactly one.");
        }

        return problems;
    }

    private sealed record HttpFunction(string Name, string Method, string Route);

    private static HttpFunction? ReadHttpTrigger(string name, AttributeSyntax trigger, List<string> problems)
    {
        var arguments = trigger.ArgumentList?.Arguments ?? default;
        var positional = arguments.Where(a => a.NameEquals is null).ToList();
        var level = positional.FirstOrDefault()?.Expression is MemberAccessExpressionSyntax access ? access.Name.Identifier.Text : null;
        if (level != "Anonymous")
        {
            problems.Add($"Function '{name}' is not AuthorizationLevel.Anonymous: IronAuth authenticates every caller itself.");
        }

        var methods = positional.Skip(1).Select(a => Literal(a.Expression)).ToList();
        var route = arguments.Where(a => a.NameEquals?.Name.Identifier.Text == "Route").Select(a => Literal(a.Expression)).FirstOrDefault();
        if (methods.Count != 1 || methods[0] is null || route is null)
        {
            problems.Add($"Function '{name}' must name exactly one HTTP method and a Route, as string literals.");
            return null;
        }

        return new HttpFunction(name, methods[0]!.ToUpperInvariant(), route);
    }

    private static void CheckDelegation(HttpFunction function, MethodDeclarationSyntax method, ApiRoute route, List<string> problems)
    {
        var handler = route.Handler.Method.DeclaringType!.Name + "." + route.Handler.Method.Name;
        var expected = route.Handler.Method.GetParameters().Select(p => p.Name!).ToList();
        var parameters = method.ParameterList.Parameters.ToList();
        var parameterTypes = parameters.Select(p => p.Type?.ToString()).ToList();
        // The request, then one string per route parameter (budgets/{id}/ic-tokens/{jti} has two).
        string[] expectedTypes = ["HttpRequest", .. Enumerable.Repeat("string", expected.Count - 1)];
        if (!parameterTypes.SequenceEqual(expectedTypes))
        {
            problems.Add($"Function '{function.Name}' takes ({string.Join(", ", parameterTypes)}); it must take ({string.Join(", ", expectedTypes)}) like {handler}.");
            return;
        }

        if (method.ReturnType.ToString() != "Task<IResult>")
        {
            problems.Add($"Function '{function.Name}' returns {method.ReturnType}; it must return Task<IResult>.");
        }

        var invocation = SingleExpression(method) as InvocationExpressionSyntax;
        if (invocation is null || Invoked(invocation) != handler)
        {
            problems.Add($"Function '{function.Name}' must be one call to {handler}, and nothing else.");
            return;
        }

        var passed = invocation.ArgumentList.Arguments.Select(a => (a.Expression as IdentifierNameSyntax)?.Identifier.Text).ToList();
        var names = parameters.Select(p => p.Identifier.Text).ToList();
        if (invocation.ArgumentList.Arguments.Any(a => a.NameColon is not null || !a.RefKindKeyword.IsKind(SyntaxKind.None)) || !passed.SequenceEqual(names!))
        {
            problems.Add($"Function '{function.Name}' must pass ({string.Join(", ", names)}) straight through to {handler}.");
        }
    }

    private static void CheckTimer(string name, MethodDeclarationSyntax method, AttributeSyntax trigger, List<string> problems)
    {
        var schedule = trigger.ArgumentList?.Arguments.FirstOrDefault(a => a.NameEquals is null) is { } first ? Literal(first.Expression) : null;
        if (schedule != ScheduleExpression)
        {
            problems.Add($"Timer function '{name}' runs on '{schedule}'; it must run on '{ScheduleExpression}', the setting the server uses.");
        }

        // The job arrives through the primary constructor, so the call's receiver must be a MaintenanceJob parameter of the class.
        var jobs = (method.Parent as TypeDeclarationSyntax)?.ParameterList?.Parameters
            .Where(p => p.Type?.ToString() == "MaintenanceJob").Select(p => p.Identifier.Text).ToList() ?? [];
        var token = method.ParameterList.Parameters.FirstOrDefault(p => p.Type?.ToString() == "CancellationToken")?.Identifier.Text;
        var invocation = SingleExpression(method) as InvocationExpressionSyntax;
        var call = invocation?.Expression as MemberAccessExpressionSyntax;
        if (call is null || call.Name.Identifier.Text != "RunAsync" || call.Expression is not IdentifierNameSyntax receiver
            || !jobs.Contains(receiver.Identifier.Text))
        {
            problems.Add($"Timer function '{name}' must be one call to MaintenanceJob.RunAsync on the job its class is given, and nothing else.");
            return;
        }

        var passed = invocation!.ArgumentList.Arguments.Select(a => (a.Expression as IdentifierNameSyntax)?.Identifier.Text).ToList();
        if (token is null || passed.Count != 1 || passed[0] != token)
        {
            problems.Add($"Timer function '{name}' must pass its CancellationToken to MaintenanceJob.RunAsync.");
        }
    }

    private static string? FunctionName(MethodDeclarationSyntax method) =>
        method.AttributeLists.SelectMany(l => l.Attributes)
            .Where(a => SimpleName(a.Name) == "Function")
            .Select(a => a.ArgumentList?.Arguments.FirstOrDefault() is { } argument ? Literal(argument.Expression) ?? "(not a literal)" : "(no name)")
            .FirstOrDefault();

    /// <summary>The body's one expression: an expression body, or a block holding only <c>return expression;</c>.</summary>
    private static ExpressionSyntax? SingleExpression(MethodDeclarationSyntax method) => method switch
    {
        { ExpressionBody: { } body } => body.Expression,
        { Body.Statements: [ReturnStatementSyntax { Expression: { } returned }] } => returned,
        _ => null,
    };

    /// <summary><c>Type.Method</c> of an invocation, however qualified the type is.</summary>
    private static string? Invoked(InvocationExpressionSyntax invocation) => invocation.Expression switch
    {
        MemberAccessExpressionSyntax { Expression: var type, Name: IdentifierNameSyntax method } =>
            type switch
            {
                IdentifierNameSyntax simple => simple.Identifier.Text,
                MemberAccessExpressionSyntax qualified => qualified.Name.Identifier.Text,
                _ => null,
            } is { } typeName ? typeName + "." + method.Identifier.Text : null,
        _ => null,
    };

    private static string SimpleName(NameSyntax name)
    {
        var simple = name switch
        {
            QualifiedNameSyntax qualified => qualified.Right.Identifier.Text,
            AliasQualifiedNameSyntax alias => alias.Name.Identifier.Text,
            SimpleNameSyntax plain => plain.Identifier.Text,
            _ => name.ToString(),
        };
        return simple.EndsWith("Attribute", StringComparison.Ordinal) ? simple[..^"Attribute".Length] : simple;
    }

    private static string? Literal(ExpressionSyntax expression) =>
        expression is LiteralExpressionSyntax literal && literal.IsKind(SyntaxKind.StringLiteralExpression) ? literal.Token.ValueText : null;
}
