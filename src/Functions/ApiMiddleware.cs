using IronAuth.Api.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;

namespace IronAuth.Functions;

/// <summary>
/// What the server's pipeline does around every API call, for the worker: the response defaults (nosniff, no-store),
/// the start-up gate, and an unhandled exception answered as a problem+json 500 with <c>code</c> <c>internal_error</c>
/// (without this the worker answers an empty 500 and reports the invocation failed). The problem is set as the
/// invocation's result, which the ASP.NET Core integration executes against the request like any handler's.
/// </summary>
public static partial class ApiMiddleware
{
    public static async Task InvokeAsync(FunctionContext context, Func<Task> next)
    {
        if (context.GetHttpContext() is not { } http)
        {
            await next();
            return;
        }

        ResponseDefaults.Register(http.Response);
        if (await StartupGate.WaitAsync(http) is { } refusal)
        {
            context.GetInvocationResult().Value = refusal;
            return;
        }

        try
        {
            await next();
        }
        catch (Exception e) when (!http.Response.HasStarted && !http.RequestAborted.IsCancellationRequested)
        {
            LogUnhandled(context.GetLogger("IronAuth.Functions"), context.FunctionDefinition.Name, e);
            context.GetInvocationResult().Value = Problems.Create(
                StatusCodes.Status500InternalServerError, Problems.CodeOf(StatusCodes.Status500InternalServerError),
                Problems.DefaultDetailOf(StatusCodes.Status500InternalServerError));
        }
    }

    [LoggerMessage(EventId = 900, EventName = "FunctionFailed", Level = LogLevel.Error, Message = "Function {Function} failed")]
    private static partial void LogUnhandled(ILogger logger, string function, Exception exception);
}
