using System.Net;
using System.Net.Http.Json;
using IronAuth.Tests.Support;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace IronAuth.Tests.EndToEnd;

/// <summary>An exception no handler expects (here: the store's schema gone under a running host) is a problem+json 500, never a bare one.</summary>
public abstract class UnhandledFailureTests(ApiTarget target) : IAsyncLifetime
{
    private IApiHost host = null!;

    public async Task InitializeAsync() => host = await target.StartAsync();

    public async Task DisposeAsync() => await host.DisposeAsync();

    [Fact]
    public async Task An_unhandled_exception_in_a_handler_is_a_problem_500_with_a_code()
    {
        await using (var connection = new SqliteConnection($"Data Source={host.Store.DatabasePath}"))
        {
            await connection.OpenAsync();
            using var rename = connection.CreateCommand();
            rename.CommandText = "ALTER TABLE users RENAME TO users_gone";
            await rename.ExecuteNonQueryAsync();
        }

        var response = await host.Client.PostAsJsonAsync("api/auth/login", new { username = host.AdminUsername, password = TestServer.AdminPassword });

        var problem = await response.AssertProblemAsync(HttpStatusCode.InternalServerError, "internal_error");
        Assert.DoesNotContain("users_gone", problem.ToJsonString(), StringComparison.Ordinal);
    }
}

public sealed class ServerUnhandledFailureTests() : UnhandledFailureTests(TestStore.Sqlite);

public sealed class FunctionsUnhandledFailureTests(ITestOutputHelper output) : UnhandledFailureTests(ApiTarget.FunctionsOn(TestStore.Sqlite, output));
