using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using Azure.Data.Tables;
using IronAuth.Tests.Support;

namespace IronAuth.Tests.Budgets;

/// <summary>
/// The provider credential comes back from the handshake only; its plaintext is nowhere else: not in the store's files
/// or tables, not in any log line (the server logging everything, at Trace), listing or audit entry.
/// </summary>
public abstract class ProviderCredentialTests(string store)
{
    [Fact]
    public async Task The_credential_comes_back_only_from_the_handshake_and_its_plaintext_is_nowhere_else()
    {
        using var shared = await TestStore.CreateAsync(store);
        var settings = ServerProcess.SettingsFor(shared, new Dictionary<string, string>
        {
            ["IronAuth:Budgets:CredentialKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            ["Logging:LogLevel:Default"] = "Trace",
        });

        var secret = "sk-proj-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        await using var server = await ServerProcess.StartAsync(settings);
        var admin = server.NewClient(await server.LoginAdminAsync());
        var budgetId = (await (await admin.PostAsJsonAsync("api/budgets", new { name = "with key", allocation = 5m })).ReadJsonAsync())["id"]!.GetValue<string>();

        Assert.Equal(HttpStatusCode.NoContent, (await admin.PutAsJsonAsync($"api/budgets/{budgetId}/provider-credential", new { provider = "openai", secret })).StatusCode);
        var token = (await (await admin.PostAsJsonAsync($"api/budgets/{budgetId}/ic-tokens", new { agent_id = "a" })).ReadJsonAsync())["token"]!.GetValue<string>();
        var handshake = await (await server.NewClient(token).PostAsJsonAsync("api/budgets/handshake", new { requested_budget = 1m })).ReadJsonAsync();
        Assert.Equal(secret, handshake["ip_token"]!.GetValue<string>());
        Assert.Equal("openai", handshake["provider"]!.GetValue<string>());

        var budget = await admin.GetStringAsync($"api/budgets/{budgetId}");
        Assert.Contains("\"provider\":\"openai\"", budget, StringComparison.Ordinal);
        var everywhere = new StringBuilder()
            .AppendLine(budget)
            .AppendLine(await admin.GetStringAsync("api/budgets"))
            .AppendLine(await admin.GetStringAsync("api/audit?limit=200"));
        Assert.Contains("budget.credential_set", everywhere.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(secret, everywhere.ToString(), StringComparison.Ordinal);
        // The server logged at Trace the whole time (it did log: the start-up lines at least).
        Assert.Contains("Now listening on", server.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, server.Output, StringComparison.Ordinal);

        var (scanned, found) = await ScanStoreAsync(shared, Encoding.UTF8.GetBytes(secret), Encoding.Unicode.GetBytes(secret));
        Assert.True(scanned > 0);
        Assert.False(found, "The store holds the credential in plain text.");
        // The scan does see what is stored in plain text: the budget's name and the provider's.
        Assert.True((await ScanStoreAsync(shared, Encoding.UTF8.GetBytes("with key"))).Found);
        Assert.True((await ScanStoreAsync(shared, Encoding.UTF8.GetBytes("openai"))).Found);
    }

    [Fact]
    public async Task Without_a_credential_key_no_credential_can_be_attached()
    {
        await using var server = await TestServer.StartAsync(store);
        var admin = server.NewClient((await server.LoginAdminAsync()).Access);
        var budgetId = (await (await admin.PostAsJsonAsync("api/budgets", new { name = "no key", allocation = 5m })).ReadJsonAsync())["id"]!.GetValue<string>();

        await (await admin.PutAsJsonAsync($"api/budgets/{budgetId}/provider-credential", new { provider = "openai", secret = "sk-1" }))
            .AssertProblemAsync(HttpStatusCode.Conflict, "credential_key_missing");
        await (await admin.PutAsJsonAsync($"api/budgets/{budgetId}/provider-credential", new { provider = "open ai", secret = "sk-1" }))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
    }

    [Fact]
    public async Task A_credential_the_configured_key_cannot_open_fails_the_handshake_and_returns_its_lease()
    {
        using var shared = await TestStore.CreateAsync(store);
        string budgetId, token, adminName;
        await using (var first = await TestServer.StartAsync(shared, new Dictionary<string, string?> { ["IronAuth:Budgets:CredentialKey"] = NewKey() }))
        {
            adminName = first.AdminUsername;
            var admin = first.NewClient((await first.LoginAdminAsync()).Access);
            budgetId = (await (await admin.PostAsJsonAsync("api/budgets", new { name = "rekeyed", allocation = 5m })).ReadJsonAsync())["id"]!.GetValue<string>();
            Assert.Equal(HttpStatusCode.NoContent, (await admin.PutAsJsonAsync($"api/budgets/{budgetId}/provider-credential", new { provider = "openai", secret = "sk-old" })).StatusCode);
            token = (await (await admin.PostAsJsonAsync($"api/budgets/{budgetId}/ic-tokens", new { agent_id = "a" })).ReadJsonAsync())["token"]!.GetValue<string>();
        }

        // The same store, another key: the sealed credential does not open.
        await using var second = await TestServer.StartAsync(shared, new Dictionary<string, string?> { ["IronAuth:Budgets:CredentialKey"] = NewKey() });
        var refused = await second.NewClient(token).PostAsJsonAsync("api/budgets/handshake", new { requested_budget = 2m });
        await refused.AssertProblemAsync(HttpStatusCode.ServiceUnavailable, "credential_unavailable");
        Assert.NotNull(refused.Headers.RetryAfter);
        var budget = await (await second.NewClient((await second.LoginAsync(adminName, TestServer.AdminPassword)).Access).GetAsync($"api/budgets/{budgetId}")).ReadJsonAsync();
        Assert.Equal((5m, 0), (budget["available"]!.GetValue<decimal>(), budget["open_leases"]!.GetValue<int>()));
    }

    private static string NewKey() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    /// <summary>How many bytes (SQLite files) or properties (tables) were looked at, and whether any holds a needle.</summary>
    private static async Task<(long Scanned, bool Found)> ScanStoreAsync(TestStore shared, params byte[][] needles)
    {
        if (shared.Kind == TestStore.Sqlite)
        {
            long scanned = 0;
            var found = false;
            foreach (var path in Directory.EnumerateFiles(Path.GetDirectoryName(shared.DatabasePath)!))
            {
                // Read while the server holds it open: the database, its WAL and shared memory, as anyone with the files would.
                await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                using var memory = new MemoryStream();
                await stream.CopyToAsync(memory);
                var bytes = memory.ToArray();
                scanned += bytes.Length;
                found |= needles.Any(n => bytes.AsSpan().IndexOf(n) >= 0);
            }

            return (scanned, found);
        }

        var service = new TableServiceClient(shared.Settings["IronAuth:Tables:ConnectionString"]);
        var prefix = shared.Settings["IronAuth:Tables:TablePrefix"]!;
        long properties = 0;
        var inTables = false;
        await foreach (var table in service.QueryAsync(t => t.Name.CompareTo(prefix) >= 0))
        {
            if (!table.Name.StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }

            await foreach (var entity in service.GetTableClient(table.Name).QueryAsync<TableEntity>())
            {
                foreach (var (_, value) in entity)
                {
                    properties++;
                    var bytes = value switch
                    {
                        byte[] binary => binary,
                        BinaryData data => data.ToArray(),
                        _ => Encoding.UTF8.GetBytes(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? ""),
                    };
                    inTables |= needles.Any(n => bytes.AsSpan().IndexOf(n) >= 0);
                }
            }
        }

        return (properties, inTables);
    }
}

public sealed class SqliteProviderCredentialTests() : ProviderCredentialTests(TestStore.Sqlite);

public sealed class TablesProviderCredentialTests() : ProviderCredentialTests(TestStore.Tables);
