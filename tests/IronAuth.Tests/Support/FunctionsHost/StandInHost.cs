using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace IronAuth.Tests.Support.FunctionsHost;

/// <summary>
/// Plays the Azure Functions host's side of the worker protocol, so the real worker process
/// (<c>dotnet IronAuth.Functions.dll</c>, started as the host starts it) runs here without Core Tools:
/// <list type="number">
/// <item>Kestrel listens twice on loopback: h2c for the worker's gRPC stream, HTTP/1.1 and h2 for clients.</item>
/// <item>The worker is started from the app's <c>worker.config.json</c> with the host's arguments and environment
/// (<c>FUNCTIONS_APPLICATION_DIRECTORY</c> included: without it the worker finds neither functions nor host.json).</item>
/// <item>Handshake: worker <c>StartStream</c> → <c>WorkerInitRequest</c> → <c>WorkerInitResponse</c> (whose <c>HttpUri</c>
/// capability is the worker's own Kestrel) → <c>FunctionsMetadataRequest</c> → <c>FunctionMetadataResponse</c> → one
/// <c>FunctionLoadRequest</c> per function, every answer matched by id since the worker answers concurrently.</item>
/// <item>A client request is matched against host.json's route prefix and each HTTP trigger's route and methods, forwarded
/// to <c>HttpUri</c> with <c>x-ms-invocation-id</c> and the <c>X-Forwarded-*</c> headers the platform's front end appends,
/// and announced with an <c>InvocationRequest</c> carrying the route values as string trigger metadata (without them a
/// <c>string id</c> parameter binds empty). The body comes back over HTTP, the status of the invocation over gRPC.</item>
/// <item>Timers are invoked on demand (<see cref="InvokeTimerAsync"/>); a <c>%name%</c> schedule is resolved from the
/// settings as the host does, and a function whose expression resolves to nothing is refused at load.</item>
/// </list>
/// The worker writes nothing useful to stdout: its logs arrive as <c>RpcLog</c> messages, which go to the log sink with
/// the process's own output. Our own code: nothing of the host's or the worker's source or .proto files is copied.
/// </summary>
public sealed partial class StandInHost : IAsyncDisposable
{
    private static readonly string[] HopByHop = ["Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Host", "TE", "Proxy-Connection"];

    private readonly WebApplication web;
    private readonly WorkerMessages messages;
    private readonly StandInOptions options;
    private readonly Channel<byte[]> outbound = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<string, TaskCompletionSource<JsonObject>> pending = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource streamStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentQueue<Invocation> invocations = new();
    private readonly HttpClient toWorker = new(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false, UseProxy = false });
    private readonly string routePrefix;
    private Process? worker;
    private Uri? workerHttp;
    private IReadOnlyList<HostedFunction> functions = [];

    private StandInHost(WebApplication web, WorkerMessages messages, StandInOptions options, string routePrefix)
    {
        this.web = web;
        this.messages = messages;
        this.options = options;
        this.routePrefix = routePrefix;
    }

    /// <summary>Where clients reach the functions, e.g. <c>http://127.0.0.1:12345/</c> (the route prefix is part of each route).</summary>
    public Uri BaseAddress { get; private set; } = null!;

    public IReadOnlyList<HostedFunction> Functions => functions;

    /// <summary>Every invocation so far, in the order they were answered.</summary>
    public IReadOnlyCollection<Invocation> Invocations => invocations;

    /// <summary>Whether the worker process has ended (it was started, and died or was stopped).</summary>
    public bool WorkerExited => worker is { HasExited: true };

    /// <summary>Whether the worker process ends within <paramref name="timeout"/> (for telling a dead worker from a slow one).</summary>
    public async Task<bool> WorkerExitsWithinAsync(TimeSpan timeout)
    {
        if (worker is null)
        {
            return false;
        }

        using var wait = new CancellationTokenSource(timeout);
        try
        {
            await worker.WaitForExitAsync(wait.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>The worker's process id (for the cold-start benchmark's memory reading).</summary>
    public int WorkerProcessId => worker?.Id ?? 0;

    /// <summary>
    /// Starts Kestrel and the worker, and completes once every function has loaded, as the real host does before it
    /// routes any request. Fails with the worker's own words (RpcLog and output) if it cannot get that far.
    /// </summary>
    public static async Task<StandInHost> StartAsync(StandInOptions options)
    {
        var app = Path.GetFullPath(options.AppDirectory);
        var hostJson = JsonNode.Parse(File.ReadAllText(Path.Combine(app, "host.json")))!;
        var prefix = hostJson["extensions"]?["http"]?["routePrefix"]?.GetValue<string>() ?? "api";
        var messages = new WorkerMessages(app);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        ListenOptions? grpc = null, front = null;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // gRPC without TLS needs an HTTP/2-only endpoint (prior knowledge); clients get the other one.
            kestrel.Listen(IPAddress.Loopback, 0, l => (grpc = l).Protocols = HttpProtocols.Http2);
            kestrel.Listen(IPAddress.Loopback, options.Port, l => (front = l).Protocols = HttpProtocols.Http1AndHttp2);
        });
        var web = builder.Build();
        var host = new StandInHost(web, messages, options, prefix);
        var eventStream = messages.EventStreamPath;
        web.Run(context => context.Connection.LocalPort == grpc!.IPEndPoint!.Port && context.Request.Path == eventStream
            ? host.EventStreamAsync(context)
            : host.ForwardAsync(context));
        try
        {
            await web.StartAsync();
            host.BaseAddress = new Uri($"http://127.0.0.1:{front!.IPEndPoint!.Port}/");
            await host.HandshakeAsync(app, grpc!.IPEndPoint!.Port);
            return host;
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs a timer function now, as its schedule would: <c>inputData</c> is the TimerInfo JSON.</summary>
    public async Task<Invocation> InvokeTimerAsync(string functionName)
    {
        var function = functions.Single(f => f.Name == functionName && f.TriggerType.Equals("timerTrigger", StringComparison.OrdinalIgnoreCase));
        var now = DateTimeOffset.UtcNow;
        var timerInfo = new JsonObject
        {
            ["Schedule"] = new JsonObject { ["AdjustForDST"] = true },
            ["ScheduleStatus"] = new JsonObject { ["Last"] = now.AddMinutes(-5), ["Next"] = now.AddMinutes(5), ["LastUpdated"] = now.AddMinutes(-5) },
            ["IsPastDue"] = false,
        };
        var invocationId = Guid.NewGuid().ToString();
        var answer = Expect("invocation:" + invocationId);
        Send(Invocation(invocationId, function, new JsonObject { ["json"] = timerInfo.ToJsonString() }, new JsonObject()));
        return Record(function, invocationId, await answer.WaitAsync(options.InvocationTimeout));
    }

    private async Task HandshakeAsync(string app, int grpcPort)
    {
        StartWorker(app, grpcPort);
        await streamStarted.Task.WaitAsync(options.StartTimeout);

        var init = await RequestAsync("init", new JsonObject
        {
            ["workerInitRequest"] = new JsonObject
            {
                ["hostVersion"] = "4.0.0-standin",
                ["workerDirectory"] = app,
                ["functionAppDirectory"] = app,
            },
        });
        EnsureSuccess(init["result"], "WorkerInitResponse");
        workerHttp = new Uri(init["capabilities"]?["HttpUri"]?.GetValue<string>()
            ?? throw new InvalidOperationException("The worker announced no HttpUri capability: is the ASP.NET Core integration configured?"));

        var metadata = await RequestAsync("metadata", new JsonObject
        {
            ["functionsMetadataRequest"] = new JsonObject { ["functionAppDirectory"] = app },
        });
        EnsureSuccess(metadata["result"], "FunctionMetadataResponse");
        functions = [.. metadata["functionMetadataResults"]!.AsArray().Select(m => HostedFunction.From(m!.AsObject(), routePrefix))];

        foreach (var function in functions.Where(f => f.Trigger["schedule"] is not null))
        {
            ResolveSchedule(function);
        }

        var loads = await Task.WhenAll(functions.Select(f => RequestAsync("load:" + f.Id, new JsonObject
        {
            ["functionLoadRequest"] = new JsonObject { ["functionId"] = f.Id, ["metadata"] = f.Metadata.DeepClone() },
        })));
        foreach (var load in loads)
        {
            EnsureSuccess(load["result"], "FunctionLoadResponse for " + load["functionId"]);
        }

        await WaitForWorkerHttpAsync();
    }

    /// <summary>
    /// The worker answers the handshake before its own Kestrel listens; a request forwarded in between would be refused.
    /// Polled with a deadline, as any process start is.
    /// </summary>
    private async Task WaitForWorkerHttpAsync()
    {
        var deadline = DateTimeOffset.UtcNow + options.StartTimeout;
        while (true)
        {
            try
            {
                using var socket = new System.Net.Sockets.TcpClient();
                await socket.ConnectAsync(workerHttp!.Host, workerHttp.Port);
                return;
            }
            catch (System.Net.Sockets.SocketException) when (DateTimeOffset.UtcNow < deadline && worker is { HasExited: false })
            {
                await Task.Delay(20);
            }
        }
    }

    /// <summary>The host resolves <c>%name%</c> in a schedule from app settings (.NET configuration keys, <c>:</c> separated).</summary>
    private void ResolveSchedule(HostedFunction function)
    {
        var schedule = function.Trigger["schedule"]!.GetValue<string>();
        var resolved = SettingExpression().Replace(schedule, match =>
            options.Settings.TryGetValue(match.Groups[1].Value, out var value) && !string.IsNullOrEmpty(value)
                ? value
                : throw new InvalidOperationException(
                    $"Function {function.Name}: the schedule '{schedule}' names the setting '{match.Groups[1].Value}', which is not set."));
        function.Trigger["schedule"] = resolved;
    }

    private void StartWorker(string app, int grpcPort)
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(app, "worker.config.json")))!["description"]!;
        var info = new ProcessStartInfo(config["defaultExecutablePath"]!.GetValue<string>())
        {
            WorkingDirectory = app,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var workerId = Guid.NewGuid().ToString();
        var requestId = Guid.NewGuid().ToString();
        var uri = $"http://127.0.0.1:{grpcPort}/";
        string[] arguments =
        [
            Path.Combine(app, config["defaultWorkerPath"]!.GetValue<string>()),
            "--host", "127.0.0.1", "--port", grpcPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--workerId", workerId, "--requestId", requestId, "--grpcMaxMessageLength", "2147483647",
            "--functions-uri", uri, "--functions-worker-id", workerId, "--functions-request-id", requestId,
            "--functions-grpc-max-message-length", "2147483647",
        ];
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in options.Settings)
        {
            // App settings reach the worker as environment variables; Linux allows no ':' in their names.
            info.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        info.Environment["FUNCTIONS_WORKER_RUNTIME"] = "dotnet-isolated";
        info.Environment["AzureWebJobsScriptRoot"] = app;
        info.Environment["FUNCTIONS_WORKER_DIRECTORY"] = app;
        info.Environment["FUNCTIONS_APPLICATION_DIRECTORY"] = app;
        info.Environment["AZURE_FUNCTIONS_ENVIRONMENT"] = "Development";
        var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start the worker.");
        worker = process;
        process.OutputDataReceived += (_, e) => Log("stdout", e.Data);
        process.ErrorDataReceived += (_, e) => Log("stderr", e.Data);
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => FailPending(new WorkerExitedException(process.ExitCode));
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>The worker's one gRPC call: a duplex stream that lasts as long as the worker.</summary>
    private async Task EventStreamAsync(HttpContext context)
    {
        context.Response.ContentType = "application/grpc";
        await context.Response.StartAsync(context.RequestAborted);
        var writing = Task.Run(async () =>
        {
            await foreach (var message in outbound.Reader.ReadAllAsync(context.RequestAborted))
            {
                await GrpcFraming.WriteAsync(context.Response.BodyWriter, message, context.RequestAborted);
            }
        });
        try
        {
            await GrpcFraming.ReadAllAsync(context.Request.BodyReader, payload => Dispatch(messages.Read(payload)), context.RequestAborted);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            // The worker went away; pending requests fail below.
        }
        finally
        {
            outbound.Writer.TryComplete();
            FailPending(new InvalidOperationException("The worker closed its event stream."));
        }

        try
        {
            await writing;
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ChannelClosedException)
        {
        }

        context.Response.AppendTrailer("grpc-status", "0");
    }

    private void Dispatch(JsonObject message)
    {
        foreach (var (kind, body) in message)
        {
            if (body is not JsonObject content)
            {
                continue;
            }

            switch (kind)
            {
                case "startStream":
                    streamStarted.TrySetResult();
                    return;
                case "workerInitResponse":
                    Complete("init", content);
                    return;
                case "functionMetadataResponse":
                    Complete("metadata", content);
                    return;
                case "functionLoadResponse":
                    Complete("load:" + content["functionId"], content);
                    return;
                case "invocationResponse":
                    Complete("invocation:" + content["invocationId"], content);
                    return;
                case "rpcLog":
                    LogRpc(content);
                    return;
                default:
                    Log("stand-in", $"ignored {kind} from the worker");
                    return;
            }
        }
    }

    private async Task ForwardAsync(HttpContext context)
    {
        try
        {
            await RouteAndInvokeAsync(context);
        }
        catch (Exception e) when (!context.RequestAborted.IsCancellationRequested)
        {
            Log("stand-in", $"{context.Request.Method} {context.Request.Path} failed in the stand-in: {e}");
            throw;
        }
    }

    /// <summary>One client request: route, forward to the worker's Kestrel, invoke, copy the answer back.</summary>
    private async Task RouteAndInvokeAsync(HttpContext context)
    {
        var path = context.Request.Path.Value!.TrimStart('/');
        var matches = functions
            .Select(f => (Function: f, Values: f.Match(path)))
            .Where(m => m.Values is not null && m.Function.Accepts(context.Request.Method))
            .OrderByDescending(m => m.Function.Precedence)
            .ToList();
        if (matches.Count == 0)
        {
            // The host's own answer to a route no function has (or a method none accepts): 404, no body.
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        var (function, values) = matches[0];
        var invocationId = Guid.NewGuid().ToString();
        using var request = ForwardedRequest(context, invocationId);
        var answer = Expect("invocation:" + invocationId);
        var sending = toWorker.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
        var metadata = new JsonObject();
        foreach (var (name, value) in values!)
        {
            metadata[name] = new JsonObject { ["string"] = value };
        }

        Send(Invocation(invocationId, function, new JsonObject { ["http"] = new JsonObject() }, metadata));

        // Copy the response while the invocation completes: the worker may stream a body it finishes after answering.
        using (var response = await sending)
        {
            context.Response.StatusCode = (int)response.StatusCode;
            foreach (var (name, value) in response.Headers.Concat(response.Content.Headers))
            {
                if (!HopByHop.Contains(name, StringComparer.OrdinalIgnoreCase))
                {
                    context.Response.Headers[name] = value.ToArray();
                }
            }

            await response.Content.CopyToAsync(context.Response.Body, context.RequestAborted);
        }

        Record(function, invocationId, await answer.WaitAsync(options.InvocationTimeout));
    }

    private HttpRequestMessage ForwardedRequest(HttpContext context, string invocationId)
    {
        var incoming = context.Request;
        var request = new HttpRequestMessage(new HttpMethod(incoming.Method), new Uri(workerHttp!, incoming.Path + incoming.QueryString));
        // A body, even an empty one sent with a Content-Type, travels as content: its headers go with it.
        if (incoming.ContentLength is not null || incoming.Headers.TransferEncoding.Count > 0 || incoming.ContentType is not null)
        {
            request.Content = new StreamContent(incoming.Body);
        }

        foreach (var (name, value) in incoming.Headers)
        {
            if (HopByHop.Contains(name, StringComparer.OrdinalIgnoreCase) || name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (!request.Headers.TryAddWithoutValidation(name, (IEnumerable<string>)value))
            {
                request.Content?.Headers.TryAddWithoutValidation(name, (IEnumerable<string>)value);
            }
        }

        if (incoming.ContentLength is { } length && request.Content is not null)
        {
            request.Content.Headers.ContentLength = length;
        }

        // What the platform's front end appends: the client's address after any value the client sent itself.
        var client = context.Connection.RemoteIpAddress?.ToString() ?? "127.0.0.1";
        request.Headers.Remove("X-Forwarded-For");
        request.Headers.TryAddWithoutValidation("X-Forwarded-For",
            incoming.Headers["X-Forwarded-For"] is { Count: > 0 } sent ? $"{sent}, {client}" : client);
        request.Headers.Remove("X-Forwarded-Proto");
        request.Headers.TryAddWithoutValidation("X-Forwarded-Proto", incoming.Scheme);
        request.Headers.Remove("X-Forwarded-Host");
        request.Headers.TryAddWithoutValidation("X-Forwarded-Host", incoming.Host.Value);
        request.Headers.TryAddWithoutValidation("x-ms-invocation-id", invocationId);
        return request;
    }

    private static JsonObject Invocation(string invocationId, HostedFunction function, JsonObject data, JsonObject triggerMetadata) => new()
    {
        ["invocationRequest"] = new JsonObject
        {
            ["invocationId"] = invocationId,
            ["functionId"] = function.Id,
            ["inputData"] = new JsonArray(new JsonObject { ["name"] = function.TriggerName, ["data"] = data }),
            ["triggerMetadata"] = triggerMetadata,
            // The host always sends a W3C trace context; the worker reads it unconditionally.
            ["traceContext"] = new JsonObject
            {
                ["traceParent"] = $"00-{Guid.NewGuid():N}-{Guid.NewGuid().ToString("N")[..16]}-01",
                ["traceState"] = "",
            },
        },
    };

    private Invocation Record(HostedFunction function, string invocationId, JsonObject response)
    {
        var result = response["result"];
        var invocation = new Invocation(function.Name, invocationId, StatusOf(result) == "Success",
            result?["exception"]?["message"]?.GetValue<string>() is { Length: > 0 } error ? error : null);
        invocations.Enqueue(invocation);
        if (!invocation.Succeeded)
        {
            Log("stand-in", $"invocation {invocationId} of {function.Name} failed: {invocation.Error}");
        }

        return invocation;
    }

    private async Task<JsonObject> RequestAsync(string key, JsonObject message)
    {
        var answer = Expect(key);
        message["requestId"] = Guid.NewGuid().ToString();
        Send(message);
        return await answer.WaitAsync(options.StartTimeout);
    }

    private Task<JsonObject> Expect(string key)
    {
        var answer = new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!pending.TryAdd(key, answer))
        {
            throw new InvalidOperationException($"Already waiting for {key}.");
        }

        return answer.Task;
    }

    private void Complete(string key, JsonObject content)
    {
        if (pending.TryRemove(key, out var answer))
        {
            answer.TrySetResult(content);
        }
        else
        {
            Log("stand-in", $"unexpected answer {key}");
        }
    }

    private void FailPending(Exception error)
    {
        foreach (var key in pending.Keys)
        {
            if (pending.TryRemove(key, out var answer))
            {
                answer.TrySetException(error);
            }
        }

        streamStarted.TrySetException(error);
    }

    private void Send(JsonObject message)
    {
        if (!outbound.Writer.TryWrite(messages.Write(message)))
        {
            throw new InvalidOperationException("The worker's event stream is closed.");
        }
    }

    /// <summary>A result is a success only when it says so (the defaults are written out, so a missing status is not one).</summary>
    private static string StatusOf(JsonNode? result) => result?["status"]?.GetValue<string>() ?? "(none)";

    private static void EnsureSuccess(JsonNode? result, string what)
    {
        if (StatusOf(result) != "Success")
        {
            throw new InvalidOperationException($"{what} was {StatusOf(result)}: {result?["exception"]?["message"]} {result?["result"]}");
        }
    }

    private void LogRpc(JsonObject log)
    {
        var exception = log["exception"]?["message"]?.GetValue<string>() is { Length: > 0 } message ? " " + message : "";
        Log($"{log["level"]} {log["category"]}", log["message"]?.GetValue<string>() + exception);
    }

    private void Log(string source, string? line)
    {
        if (line is not null)
        {
            options.Log?.Invoke($"[{source}] {line}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (worker is { } process)
        {
            try
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
            catch (InvalidOperationException)
            {
                // Never started, or already gone.
            }

            process.Dispose();
        }

        outbound.Writer.TryComplete();
        toWorker.Dispose();
        await web.StopAsync();
        await web.DisposeAsync();
    }

    [GeneratedRegex("%([^%]+)%")]
    private static partial Regex SettingExpression();
}

/// <summary>How to run an app under the stand-in host.</summary>
public sealed class StandInOptions
{
    /// <summary>The app's build or publish folder: host.json, worker.config.json, functions.metadata and the worker dll.</summary>
    public required string AppDirectory { get; init; }

    /// <summary>App settings as .NET configuration keys (<c>IronAuth:Store</c>); they reach the worker as environment variables.</summary>
    public IReadOnlyDictionary<string, string?> Settings { get; init; } = new Dictionary<string, string?>();

    /// <summary>Where RpcLog messages and the worker's output go (a test's output).</summary>
    public Action<string>? Log { get; init; }

    /// <summary>The clients' port; 0 for any free one.</summary>
    public int Port { get; init; }

    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(60);

    public TimeSpan InvocationTimeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>The worker process ended while the host was waiting for it.</summary>
public sealed class WorkerExitedException(int exitCode) : InvalidOperationException($"The worker exited with code {exitCode}.");

/// <summary>One function run: which, and how the worker said it went.</summary>
public sealed record Invocation(string FunctionName, string InvocationId, bool Succeeded, string? Error);
