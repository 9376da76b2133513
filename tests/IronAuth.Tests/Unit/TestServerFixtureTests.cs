using System.Net;
using System.Net.Sockets;
using IronAuth.Tests.Support;

namespace IronAuth.Tests.Unit;

/// <summary>The fixture itself: a store's first server whose chosen port was taken meanwhile moves to another.</summary>
public sealed class TestServerFixtureTests
{
    [Fact]
    public async Task A_first_server_whose_port_was_taken_since_the_store_chose_it_starts_on_another_with_a_matching_issuer()
    {
        using var store = await TestStore.CreateAsync(TestStore.Sqlite);
        var chosen = new Uri(store.Issuer);
        using var squatter = new TcpListener(IPAddress.Loopback, chosen.Port);
        squatter.Start();

        await using var server = await TestServer.StartAsync(store);

        Assert.NotEqual(chosen.Port, server.BaseAddress.Port);
        Assert.Equal(store.Issuer, server.Issuer);
        Assert.StartsWith(server.BaseAddress.GetLeftPart(UriPartial.Authority), server.Issuer, StringComparison.Ordinal);
    }
}
