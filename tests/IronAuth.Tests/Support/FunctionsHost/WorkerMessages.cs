using System.Buffers;
using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace IronAuth.Tests.Support.FunctionsHost;

/// <summary>
/// The worker protocol's messages as JSON. The generated message classes are internal to the worker's own
/// Microsoft.Azure.Functions.Worker.Grpc.dll, but their descriptors are reachable by reflection: the stand-in loads
/// them from the app's folder at run time (so it always speaks the version the app ships) and converts with
/// Google.Protobuf's JSON support, which every field name of the protocol follows (lowerCamelCase).
/// Defaults are written out, so an enum at its zero value (a <c>status</c> of <c>Failure</c>) is never silently absent.
/// </summary>
internal sealed class WorkerMessages
{
    private static readonly ConcurrentDictionary<string, MessageDescriptor> Loaded = new(StringComparer.Ordinal);
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true));
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));

    private readonly MessageDescriptor streamingMessage;

    public WorkerMessages(string appDirectory) =>
        streamingMessage = Loaded.GetOrAdd(Path.GetFullPath(Path.Combine(appDirectory, "Microsoft.Azure.Functions.Worker.Grpc.dll")), Load);

    /// <summary>The gRPC path of the one duplex method the worker calls: <c>/AzureFunctionsRpcMessages.FunctionRpc/EventStream</c>.</summary>
    public string EventStreamPath => "/" + streamingMessage.File.Services.Single(s => s.Name == "FunctionRpc").FullName + "/EventStream";

    public JsonObject Read(ReadOnlySequence<byte> payload) =>
        JsonNode.Parse(Formatter.Format(streamingMessage.Parser.ParseFrom(payload)))!.AsObject();

    public byte[] Write(JsonObject message) => Parser.Parse(message.ToJsonString(), streamingMessage).ToByteArray();

    private static MessageDescriptor Load(string path)
    {
        // Two apps may ship the same worker version from different folders: one copy per identity can be loaded.
        var identity = AssemblyName.GetAssemblyName(path).FullName;
        var assembly = AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.FullName == identity) ?? Assembly.LoadFrom(path);
        Type?[] types;
        try
        {
            types = assembly.GetTypes();
        }
        catch (ReflectionTypeLoadException e)
        {
            // Only the descriptor holder is needed; types that reference gRPC's client stack may fail to load here.
            types = e.Types;
        }

        var file = types
            .Where(t => t is not null && t.Name.EndsWith("Reflection", StringComparison.Ordinal))
            .Select(t => t!.GetProperty("Descriptor", BindingFlags.Public | BindingFlags.Static)?.GetValue(null) as FileDescriptor)
            .FirstOrDefault(f => f?.MessageTypes.Any(m => m.Name == "StreamingMessage") == true)
            ?? throw new InvalidOperationException($"{path} holds no StreamingMessage descriptor.");
        return file.MessageTypes.Single(m => m.Name == "StreamingMessage");
    }
}
