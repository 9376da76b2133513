using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using IronAuth.Core.Maintenance;
using IronAuth.Core.Signing;
using IronAuth.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace IronAuth.Tests.EndToEnd;

/// <summary>Key rotation without logouts: tokens from before a rotation keep working until they expire, everywhere.</summary>
public abstract class KeyRotationTests(string store)
{
    // Keys kept in the store (null unsets the test suite's configured key); maintenance only when a test runs it.
    private static Dictionary<string, string?> StoredKeys(params (string Key, string? Value)[] more)
    {
        var settings = new Dictionary<string, string?>
        {
            ["IronAuth:Jwt:SigningKey"] = null,
            ["IronAuth:Maintenance:Schedule"] = "0 0 0 1 1 *",
        };
        foreach (var (key, value) in more)
        {
            settings[key] = value;
        }

        return settings;
    }

    private static async Task<List<string>> JwksKidsAsync(TestServer server) =>
        [.. (await server.Client.GetFromJsonAsync<JsonNode>("api/auth/jwks.json"))!["keys"]!.AsArray().Select(k => k!["kid"]!.GetValue<string>())];

    private static async Task<JsonArray> KeysAsync(HttpClient admin)
    {
        var response = await admin.GetAsync("api/keys");
        Assert.True(response.IsSuccessStatusCode, $"{response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return (await response.ReadJsonAsync())["keys"]!.AsArray();
    }

    private static string KidOf(string token) => new JsonWebToken(token).Kid;

    [Fact]
    public async Task Tokens_from_before_a_rotation_keep_working_until_maintenance_retires_their_key()
    {
        // The resource server checks lifetimes on the machine's clock, so this server's clock starts there.
        await using var server = await TestServer.StartAsync(store, StoredKeys(), new FakeTimeProvider(DateTimeOffset.UtcNow));
        var admin = server.NewClient((await server.LoginAdminAsync()).Access);
        // Presented nowhere before the rotation, so neither IronAuth nor the resource server has it cached as valid.
        var before = (await server.LoginAdminAsync()).Access;
        var oldKid = KidOf(before);

        var rotated = await admin.PostAsync("api/keys/rotate", null);
        Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);
        var newKey = await rotated.ReadJsonAsync();
        var newKid = newKey["kid"]!.GetValue<string>();
        Assert.NotEqual(oldKid, newKid);
        Assert.Equal("active", newKey["state"]!.GetValue<string>());
        var after = (await server.LoginAdminAsync()).Access;
        Assert.Equal(newKid, KidOf(after));

        // A resource server that knows only Authority and Audience takes both: the JWKS holds the passive key too.
        await using var resource = await ResourceServer.StartAsync(server.Issuer);
        Assert.Equal(HttpStatusCode.OK, (await resource.Client(after).GetAsync("whoami")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await resource.Client(before).GetAsync("whoami")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.NewClient(before).GetAsync("api/auth/me")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.NewClient(after).GetAsync("api/auth/me")).StatusCode);
        Assert.Equal([newKid, oldKid], await JwksKidsAsync(server));

        var keys = await KeysAsync(admin);
        Assert.Equal(["active", "passive"], keys.Select(k => k!["state"]!.GetValue<string>()));
        Assert.Equal([newKid, oldKid], keys.Select(k => k!["kid"]!.GetValue<string>()));
        Assert.Equal("RS256", keys[1]!["algorithm"]!.GetValue<string>());
        // Refresh interval (another instance may sign with it that long) + the longest token lifetime (IC tokens' maximum,
        // 7 days, over access tokens' 15 minutes) + clock skew.
        var window = TimeSpan.FromSeconds(30) + TimeSpan.FromDays(7) + TimeSpan.FromSeconds(30);
        Assert.Equal(keys[1]!["deactivated_at"]!.GetValue<DateTimeOffset>() + window, keys[1]!["retire_after"]!.GetValue<DateTimeOffset>());

        // Just inside the window the old key may still be on an unexpired token: maintenance keeps it.
        var job = server.Services.GetRequiredService<MaintenanceJob>();
        server.Time.Advance(window - TimeSpan.FromSeconds(1));
        Assert.Equal(0, (await job.RunAsync(default)).SigningKeysRetired);
        Assert.Equal([newKid, oldKid], await JwksKidsAsync(server));

        server.Time.Advance(TimeSpan.FromSeconds(1));
        var report = await job.RunAsync(default);
        Assert.Equal(1, report.SigningKeysRetired);
        Assert.False(report.SigningKeyRotated);
        Assert.Equal([newKid], await JwksKidsAsync(server));
        admin = server.NewClient((await server.LoginAdminAsync()).Access);
        keys = await KeysAsync(admin);
        Assert.Equal(["active", "retired"], keys.Select(k => k!["state"]!.GetValue<string>()));
        Assert.Equal(oldKid, keys[1]!["kid"]!.GetValue<string>());
        // A resource server reading the JWKS now refuses a token of the retired key: its exp, on the machine's clock that
        // the resource server uses, is still ahead, so the refusal is about the key alone.
        await using (var later = await ResourceServer.StartAsync(server.Issuer))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await later.Client(before).GetAsync("whoami")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await later.Client(after).GetAsync("whoami")).StatusCode);
        }

        var audit = (await (await admin.GetAsync("api/audit?limit=200")).ReadJsonAsync())["items"]!.AsArray();
        var rotation = Assert.Single(audit, e => e!["action"]!.GetValue<string>() == "signing_key.rotated")!;
        Assert.Equal(server.AdminUsername, rotation["actor_name"]!.GetValue<string>());
        Assert.Equal(newKid, rotation["target_id"]!.GetValue<string>());
        Assert.Equal(oldKid, Assert.Single(audit, e => e!["action"]!.GetValue<string>() == "signing_key.retired")!["target_id"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_ic_token_from_before_a_rotation_verifies_until_it_expires_and_its_key_retires_after()
    {
        await using var server = await TestServer.StartAsync(store, StoredKeys());
        var admin = server.NewClient((await server.LoginAdminAsync()).Access);
        var budgetId = (await (await admin.PostAsJsonAsync("api/budgets", new { name = "rotation", allocation = 100m })).ReadJsonAsync())["id"]!.GetValue<string>();
        // The longest an IC token may live (IronAuth:Budgets:MaxIcTokenLifetime, 7 days); one hour more is refused.
        var minted = await admin.PostAsJsonAsync($"api/budgets/{budgetId}/ic-tokens", new { agent_id = "long-runner", expires_in_hours = 7 * 24 });
        Assert.Equal(HttpStatusCode.Created, minted.StatusCode);
        var icToken = (await minted.ReadJsonAsync())["token"]!.GetValue<string>();
        var tooLong = await admin.PostAsJsonAsync($"api/budgets/{budgetId}/ic-tokens", new { agent_id = "longer", expires_in_hours = 7 * 24 + 1 });
        var problem = await tooLong.AssertProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        Assert.Contains("IronAuth:Budgets:MaxIcTokenLifetime", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        var oldKid = KidOf(icToken);

        var newKid = (await (await admin.PostAsync("api/keys/rotate", null)).ReadJsonAsync())["kid"]!.GetValue<string>();
        Assert.NotEqual(oldKid, newKid);

        // Far past the access tokens' window (16 minutes), a minute before the IC token's expiry: maintenance keeps the
        // key, and the token, presented here for the first time, verifies at IronAuth and from the JWKS.
        var job = server.Services.GetRequiredService<MaintenanceJob>();
        server.Time.Advance(TimeSpan.FromDays(7) - TimeSpan.FromMinutes(1));
        Assert.Equal(0, (await job.RunAsync(default)).SigningKeysRetired);
        var handshake = await server.NewClient(icToken).PostAsJsonAsync("api/budgets/handshake", new { requested_budget = 1m });
        Assert.True(handshake.StatusCode == HttpStatusCode.OK, await handshake.Content.ReadAsStringAsync());
        Assert.Equal([newKid, oldKid], await JwksKidsAsync(server));
        Assert.True(await VerifiesFromJwksAsync(server, icToken), "The JWKS no longer verifies the IC token.");

        // Its expiry plus the window's margin (refresh interval + clock skew) later, the key is retired and gone.
        server.Time.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(59));
        Assert.Equal(0, (await job.RunAsync(default)).SigningKeysRetired);
        server.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, (await job.RunAsync(default)).SigningKeysRetired);
        Assert.Equal([newKid], await JwksKidsAsync(server));
        admin = server.NewClient((await server.LoginAdminAsync()).Access);
        var keys = await KeysAsync(admin);
        Assert.Equal(["active", "retired"], keys.Select(k => k!["state"]!.GetValue<string>()));
        Assert.Equal(oldKid, keys[1]!["kid"]!.GetValue<string>());
    }

    // A standard JWT library, given only the JWKS; lifetimes on the server's (moved) clock.
    private static async Task<bool> VerifiesFromJwksAsync(TestServer server, string icToken)
    {
        var jwks = new JsonWebKeySet(await server.Client.GetStringAsync("api/auth/jwks.json"));
        var now = server.Time.GetUtcNow().UtcDateTime;
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(icToken, new TokenValidationParameters
        {
            ValidIssuer = server.Issuer,
            ValidAudience = "ironauth-budgets",
            IssuerSigningKeys = jwks.GetSigningKeys(),
            ValidTypes = ["ic+jwt"],
            LifetimeValidator = (nbf, exp, _, _) => exp > now && nbf <= now,
        });
        return result.IsValid;
    }

    [Fact]
    public async Task Another_server_on_the_store_follows_a_rotation_within_the_refresh_interval()
    {
        using var shared = await TestStore.CreateAsync(store);
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero));
        await using var first = await TestServer.StartAsync(shared, StoredKeys(), time);
        await using var second = await TestServer.StartAsync(shared, StoredKeys(), time);
        var admin = first.NewClient((await first.LoginAdminAsync()).Access);
        var oldKid = Assert.Single(await JwksKidsAsync(second));

        var newKid = (await (await admin.PostAsync("api/keys/rotate", null)).ReadJsonAsync())["kid"]!.GetValue<string>();

        // The second server reads the keys again at most KeyRefreshInterval (30 s) after its last read.
        Assert.Equal([oldKid], await JwksKidsAsync(second));
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal([newKid, oldKid], await JwksKidsAsync(second));
        var signedBySecond = await second.Client.PostAsJsonAsync("api/auth/login", new { username = first.AdminUsername, password = TestServer.AdminPassword });
        Assert.Equal(newKid, KidOf((await signedBySecond.ReadJsonAsync())["access_token"]!.GetValue<string>()));

        // A token naming a kid the second server has not read yet (rotated a moment ago) makes it read at once.
        var newerKid = (await (await admin.PostAsync("api/keys/rotate", null)).ReadJsonAsync())["kid"]!.GetValue<string>();
        var newest = (await first.LoginAdminAsync()).Access;
        Assert.Equal(newerKid, KidOf(newest));
        Assert.Equal(HttpStatusCode.OK, (await second.NewClient(newest).GetAsync("api/auth/me")).StatusCode);
        Assert.Equal([newerKid, newKid, oldKid], await JwksKidsAsync(second));
    }

    [Fact]
    public async Task Scheduled_rotation_makes_a_new_key_when_the_active_one_is_older_than_RotateEvery()
    {
        await using var server = await TestServer.StartAsync(store, StoredKeys(("IronAuth:Jwt:RotateEvery", "1.00:00:00")));
        var oldKid = KidOf((await server.LoginAdminAsync()).Access);
        var job = server.Services.GetRequiredService<MaintenanceJob>();

        server.Time.Advance(TimeSpan.FromHours(23));
        Assert.False((await job.RunAsync(default)).SigningKeyRotated);
        server.Time.Advance(TimeSpan.FromHours(1));
        Assert.True((await job.RunAsync(default)).SigningKeyRotated);

        var after = (await server.LoginAdminAsync()).Access;
        Assert.NotEqual(oldKid, KidOf(after));
        Assert.Equal([KidOf(after), oldKid], await JwksKidsAsync(server));
        Assert.False((await job.RunAsync(default)).SigningKeyRotated);
    }

    [Fact]
    public async Task Only_an_admin_with_an_unnarrowed_credential_manages_keys()
    {
        await using var server = await TestServer.StartAsync(store, StoredKeys());
        var viewer = server.NewClient((await server.CreateUserAsync("viewer")).Tokens.Access);
        var admin = server.NewClient((await server.LoginAdminAsync()).Access);
        var narrowed = (await (await admin.PostAsJsonAsync("api/tokens", new { name = "narrow", scopes = new[] { "users:read" } })).ReadJsonAsync())["token"]!.GetValue<string>();
        var full = (await (await admin.PostAsJsonAsync("api/tokens", new { name = "full" })).ReadJsonAsync())["token"]!.GetValue<string>();

        await (await server.Client.PostAsync("api/keys/rotate", null)).AssertProblemAsync(HttpStatusCode.Unauthorized, "missing_credentials");
        await (await viewer.GetAsync("api/keys")).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await viewer.PostAsync("api/keys/rotate", null)).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await server.NewClient(narrowed).PostAsync("api/keys/rotate", null)).AssertProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        Assert.Single(await KeysAsync(admin));

        Assert.Equal(HttpStatusCode.OK, (await server.NewClient(full).PostAsync("api/keys/rotate", null)).StatusCode);
        Assert.Equal(2, (await KeysAsync(admin)).Count);
    }

    [Fact]
    public async Task With_a_configured_key_rotation_is_refused_and_previous_keys_stay_passive()
    {
        using var shared = await TestStore.CreateAsync(store);
        var oldPem = SigningKeys.Generate(Core.Configuration.SigningAlgorithm.RS256);
        var newPem = SigningKeys.Generate(Core.Configuration.SigningAlgorithm.ES256);
        string before, adminName;
        await using (var old = await TestServer.StartAsync(shared, new Dictionary<string, string?> { ["IronAuth:Jwt:SigningKey"] = oldPem }))
        {
            before = (await old.LoginAdminAsync()).Access;
            adminName = old.AdminUsername;
        }

        // The Key Vault secret's new version is the key; the previous version is kept passive.
        await using var server = await TestServer.StartAsync(shared, new Dictionary<string, string?>
        {
            ["IronAuth:Jwt:Algorithm"] = "ES256",
            ["IronAuth:Jwt:SigningKey"] = newPem,
            ["IronAuth:Jwt:PreviousSigningKeys:0"] = oldPem,
        });
        var admin = server.NewClient((await server.LoginAsync(adminName, TestServer.AdminPassword)).Access);

        var refused = await admin.PostAsync("api/keys/rotate", null);
        var problem = await refused.AssertProblemAsync(HttpStatusCode.Conflict, "signing_key_configured");
        Assert.Contains("Key Vault", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.OK, (await server.NewClient(before).GetAsync("api/auth/me")).StatusCode);
        var keys = await KeysAsync(admin);
        Assert.Equal(["active", "passive"], keys.Select(k => k!["state"]!.GetValue<string>()));
        Assert.All(keys, k => Assert.Equal("configured", k!["source"]!.GetValue<string>()));
        Assert.Equal(["ES256", "RS256"], keys.Select(k => k!["algorithm"]!.GetValue<string>()));
        Assert.Equal([SigningKeys.KeyIdOf(newPem, Core.Configuration.SigningAlgorithm.ES256), KidOf(before)], await JwksKidsAsync(server));
        var discovery = await server.Client.GetFromJsonAsync<JsonNode>("api/.well-known/openid-configuration");
        Assert.Equal(["ES256", "RS256"], discovery!["id_token_signing_alg_values_supported"]!.AsArray().Select(a => a!.GetValue<string>()));
        // Nothing went to the store: a configured key is never kept there.
        Assert.Equal(0, (await server.Services.GetRequiredService<MaintenanceJob>().RunAsync(default)).SigningKeysRetired);
    }
}

public sealed class SqliteKeyRotationTests() : KeyRotationTests(TestStore.Sqlite);

public sealed class TablesKeyRotationTests() : KeyRotationTests(TestStore.Tables);
