using Xunit.Abstractions;
using Xunit.Sdk;

namespace IronAuth.Tests.Support;

/// <summary>A test class whose suite runs through the Functions host; its <see cref="ServerFactAttribute"/> tests are skipped there.</summary>
public interface IRunsOnFunctions;

/// <summary>
/// A test of a shared end-to-end suite that needs the self-hosted server's process: its <c>FakeTimeProvider</c> or its
/// services, which no seam reaches across the worker's process boundary. Under a <see cref="IRunsOnFunctions"/> class it
/// is reported as skipped with <paramref name="because"/>, never run as a test that asserts nothing.
/// </summary>
[XunitTestCaseDiscoverer("IronAuth.Tests.Support.ServerFactDiscoverer", "IronAuth.Tests")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class ServerFactAttribute(string because) : FactAttribute
{
    public string Because { get; } = because;
}

/// <summary>The <see cref="ServerFactAttribute"/> of theories.</summary>
[XunitTestCaseDiscoverer("IronAuth.Tests.Support.ServerTheoryDiscoverer", "IronAuth.Tests")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class ServerTheoryAttribute(string because) : TheoryAttribute
{
    public string Because { get; } = because;
}

public sealed class ServerFactDiscoverer(IMessageSink sink) : FactDiscoverer(sink)
{
    public override IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute) =>
        ServerOnly.Skipped(DiagnosticMessageSink, discoveryOptions, testMethod, factAttribute) ?? base.Discover(discoveryOptions, testMethod, factAttribute);
}

public sealed class ServerTheoryDiscoverer(IMessageSink sink) : TheoryDiscoverer(sink)
{
    public override IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo theoryAttribute) =>
        ServerOnly.Skipped(DiagnosticMessageSink, discoveryOptions, testMethod, theoryAttribute) ?? base.Discover(discoveryOptions, testMethod, theoryAttribute);
}

internal static class ServerOnly
{
    public static IXunitTestCase[]? Skipped(IMessageSink sink, ITestFrameworkDiscoveryOptions options, ITestMethod method, IAttributeInfo attribute)
    {
        if (!typeof(IRunsOnFunctions).IsAssignableFrom(method.TestClass.Class.ToRuntimeType()))
        {
            return null;
        }

        var because = attribute.GetConstructorArguments().OfType<string>().Single();
        return [new XunitSkippedDataRowTestCase(sink, options.MethodDisplayOrDefault(), options.MethodDisplayOptionsOrDefault(), method, "Server only: " + because)];
    }
}
