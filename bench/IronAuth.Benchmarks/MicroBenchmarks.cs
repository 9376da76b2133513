using BenchmarkDotNet.Attributes;
using IronAuth.Core;
using IronAuth.Core.Configuration;
using IronAuth.Core.Limits;
using IronAuth.Core.Sessions;
using IronAuth.Core.Signing;
using IronAuth.Core.Tokens;
using IronAuth.Core.Users;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace IronAuth.Benchmarks;

[MemoryDiagnoser]
public class TokenFormatBenchmarks
{
    private readonly string token = ApiTokenFormat.New();

    [Benchmark(Description = "API token: shape + checksum + SHA-256 digest")]
    public byte[] ParseAndDigest() => ApiTokenFormat.IsWellFormed(token) ? Ids.Digest(token) : [];
}

[MemoryDiagnoser]
public class JwtBenchmarks
{
    private AccessTokens tokens = null!;
    private string issued = "";
    private User user = null!;

    [Params(SigningAlgorithm.RS256, SigningAlgorithm.ES256)]
    public SigningAlgorithm Algorithm { get; set; }

    [GlobalSetup]
    public async Task Setup()
    {
        var options = Options.Create(new IronAuthOptions
        {
            Jwt = new JwtOptions { Algorithm = Algorithm, SigningKey = SigningKeys.Generate(Algorithm) },
        });
        tokens = new AccessTokens(new SigningKeys(new NoKeyStore(), options, TimeProvider.System), options, TimeProvider.System);
        user = new User { Id = Ids.New(TimeProvider.System), Username = "bench", Role = Role.User, PasswordHash = "", CreatedAt = default, UpdatedAt = default };
        issued = (await tokens.IssueAsync(user, Ids.New(TimeProvider.System))).Token;
    }

    [Benchmark(Description = "JWT create")]
    public async Task<string> Create() => (await tokens.IssueAsync(user, "0190a5f2c1d47c3aa0b1c2d3e4f5a6b7")).Token;

    [Benchmark(Description = "JWT validate")]
    public async Task<AccessTokenClaims?> Validate() => await tokens.ValidateAsync(issued);

    private sealed class NoKeyStore : ISigningKeyStore
    {
        public Task<StoredSigningKey> GetOrAddAsync(StoredSigningKey candidate, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("A configured key is used.");

        public Task<IReadOnlyList<StoredSigningKey>> ListAsync(CancellationToken cancellationToken) =>
            throw new InvalidOperationException("A configured key is used.");

        public Task<bool> RotateAsync(string activeId, StoredSigningKey next, DateTimeOffset now, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("A configured key is used.");

        public Task<bool> RetireAsync(string id, string publicKeyPem, DateTimeOffset now, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("A configured key is used.");
    }
}

/// <summary>The store-bound steps of a verify, and a whole verify, on each available store.</summary>
[MemoryDiagnoser]
public class StoreBenchmarks
{
    private Stores stores = null!;
    private IRateBucketStore buckets = null!;
    private IUsageStore usage = null!;
    private TokenVerifier verifier = null!;
    private readonly Quota noCap = new(0, 0, 0);

    [ParamsSource(nameof(StoreNames))]
    public string Store { get; set; } = "sqlite";

    public static IEnumerable<string> StoreNames() => Stores.Available();

    [GlobalSetup]
    public async Task Setup()
    {
        stores = await Stores.CreateAsync(Store);
        buckets = stores.Services.GetRequiredService<IRateBucketStore>();
        usage = stores.Services.GetRequiredService<IUsageStore>();
        verifier = stores.Services.GetRequiredService<TokenVerifier>();
    }

    [GlobalCleanup]
    public async Task Cleanup() => await stores.DisposeAsync();

    [Benchmark(Description = "bucket take")]
    public Task<BucketTake> BucketTake() => buckets.TakeAsync(stores.TokenId, 1_000_000, 1_000_000, DateTimeOffset.UtcNow, default);

    [Benchmark(Description = "usage add (quota checked)")]
    public Task<UsageOutcome> UsageAdd() => usage.TryAddAsync(stores.TokenId, UsageDay.DayOf(DateTimeOffset.UtcNow), new UsageDelta(1, 10, 0), noCap, default);

    [Benchmark(Description = "whole verify")]
    public Task<TokenVerdict> Verify() => verifier.VerifyAsync(stores.Token, 10, 0, default);
}
