using IronAuth.Core.Audit;
using IronAuth.Core.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IronAuth.Core.Signing;

/// <summary>Where a signing key is in its life.</summary>
public enum SigningKeyState
{
    /// <summary>Signs new tokens; published and accepted.</summary>
    Active,

    /// <summary>No longer signs, but may have signed an unexpired token: still published and accepted.</summary>
    Passive,

    /// <summary>No unexpired token can carry it: neither published nor accepted.</summary>
    Retired,
}

/// <summary>A signing key as listed to an admin: never its private half.</summary>
/// <param name="Kid">The key id (RFC 7638 thumbprint), as in token headers and the JWKS.</param>
/// <param name="Algorithm">RS256 or ES256.</param>
/// <param name="CreatedAt">When the key was generated; null for a configured key.</param>
/// <param name="State">Active, passive or retired.</param>
/// <param name="DeactivatedAt">When a rotation replaced it as the signing key.</param>
/// <param name="RetireAfter">When maintenance may retire it (passive stored keys only).</param>
/// <param name="RetiredAt">When maintenance retired it.</param>
/// <param name="Source">The store (IronAuth rotates it) or configuration (rotated in Key Vault).</param>
public sealed record SigningKeyInfo(
    string Kid,
    string Algorithm,
    DateTimeOffset? CreatedAt,
    SigningKeyState State,
    DateTimeOffset? DeactivatedAt,
    DateTimeOffset? RetireAfter,
    DateTimeOffset? RetiredAt,
    SigningKeySource Source);

/// <summary>What one maintenance pass over the keys did.</summary>
/// <param name="Rotated">Whether a scheduled rotation (<c>IronAuth:Jwt:RotateEvery</c>) made a new active key.</param>
/// <param name="Retired">How many passive keys were retired.</param>
public sealed record SigningKeyUpkeep(bool Rotated, int Retired);

/// <summary>
/// Lists, rotates and retires the signing keys. A rotation makes a new active key and leaves the old one passive, so
/// tokens it signed keep validating (here and at resource servers reading the JWKS) until they expire; maintenance
/// then retires it. With a configured key IronAuth rotates nothing: that key is rotated where it is kept.
/// </summary>
public sealed partial class SigningKeyManager(
    ISigningKeyStore store,
    SigningKeys keys,
    IAuditStore audit,
    IOptions<IronAuthOptions> options,
    TimeProvider time,
    ILogger<SigningKeyManager> logger)
{
    private readonly JwtOptions jwt = options.Value.Jwt;
    private readonly BudgetOptions budgets = options.Value.Budgets;

    /// <summary>
    /// How long after its deactivation a passive key may still verify an unexpired token: another instance may sign
    /// with it until it next re-reads the keys (the refresh interval), that token lives at most the longer of the
    /// access-token lifetime and the IC-token maximum (<c>IronAuth:Budgets:MaxIcTokenLifetime</c>: minting refuses
    /// more), and validators allow the clock skew on top. So every token a key signed expires before the key retires.
    /// </summary>
    public TimeSpan PassiveWindow =>
        jwt.KeyRefreshInterval + TimeSpan.FromTicks(Math.Max(jwt.AccessTokenLifetime.Ticks, budgets.MaxIcTokenLifetime.Ticks)) + jwt.ClockSkew;

    /// <summary>Every key: active first, then passive and retired ones, newest first.</summary>
    public async Task<IReadOnlyList<SigningKeyInfo>> ListAsync(CancellationToken cancellationToken)
    {
        if (keys.IsConfigured)
        {
            var set = await keys.GetSetAsync();
            return [.. set.Published.Select((k, i) => new SigningKeyInfo(
                k.KeyId, k.Algorithm, null, i == 0 ? SigningKeyState.Active : SigningKeyState.Passive, null, null, null, SigningKeySource.Configured))];
        }

        // Creates the first key when there is none yet, as signing would.
        await keys.GetSetAsync();
        var stored = await store.ListAsync(cancellationToken);
        var active = SigningKeys.ActiveOf(stored);
        return [.. stored
            .Where(k => k == active || k.DeactivatedAt is not null || k.RetiredAt is not null)
            .Select(k => Describe(k, k == active))
            .OrderBy(k => k.State)
            .ThenByDescending(k => k.CreatedAt)];
    }

    /// <summary>
    /// Makes a new active key (of <c>IronAuth:Jwt:Algorithm</c>) and leaves the current one passive. 409
    /// <c>signing_key_configured</c> when the key is configured; 409 <c>key_rotation_conflict</c> when another rotation
    /// replaced the active key at the same moment (the store let exactly one through).
    /// </summary>
    public async Task<Result<SigningKeyInfo>> RotateAsync(Actor actor, CancellationToken cancellationToken)
    {
        if (keys.IsConfigured)
        {
            return Failure.Conflict(
                "signing_key_configured",
                "The signing key is configured (IronAuth:Jwt:SigningKey), so IronAuth does not rotate it: put a new key (version) where it "
                + "is kept, such as Key Vault, and list the previous one in IronAuth:Jwt:PreviousSigningKeys until its tokens have expired.");
        }

        await keys.GetSetAsync();
        var active = SigningKeys.ActiveOf(await store.ListAsync(cancellationToken))
            ?? throw new InvalidOperationException("The store has no active signing key.");
        var now = time.GetUtcNow();
        var pem = SigningKeys.Generate(jwt.Algorithm);
        var next = new StoredSigningKey(SigningKeys.KeyIdOf(pem, jwt.Algorithm), jwt.Algorithm, pem, now);
        if (!await store.RotateAsync(active.Id, next, now, cancellationToken))
        {
            return Failure.Conflict("key_rotation_conflict", "Another rotation replaced the active signing key at the same moment; list the keys to see it.");
        }

        await keys.RefreshAsync();
        var previousKid = SigningKeys.KeyIdOf(active.PrivateKeyPem, active.Algorithm);
        LogRotated(logger, previousKid, next.Id, actor.Name);
        await audit.AppendAsync(
            AuditEntry.Create(time, actor, AuditActions.SigningKeyRotated, "signing_key", next.Id, new Dictionary<string, string>
            {
                ["algorithm"] = next.Algorithm.ToString(),
                ["previous_kid"] = previousKid,
            }),
            CancellationToken.None);
        return Describe(next, isActive: true);
    }

    /// <summary>
    /// The keys' share of maintenance: the scheduled rotation when the active key is older than
    /// <c>IronAuth:Jwt:RotateEvery</c>, then retiring every passive key past <see cref="PassiveWindow"/>.
    /// </summary>
    public async Task<SigningKeyUpkeep> MaintainAsync(CancellationToken cancellationToken)
    {
        if (keys.IsConfigured)
        {
            return new SigningKeyUpkeep(false, 0);
        }

        await keys.GetSetAsync();
        var now = time.GetUtcNow();
        var rotated = false;
        if (jwt.RotateEvery is { } every && SigningKeys.ActiveOf(await store.ListAsync(cancellationToken)) is { } active && now - active.CreatedAt >= every)
        {
            // A conflict means another instance rotated at the same time: the key is new either way.
            rotated = (await RotateAsync(Actor.System, cancellationToken)).Succeeded;
        }

        var retired = 0;
        foreach (var key in await store.ListAsync(cancellationToken))
        {
            if (key is { DeactivatedAt: { } deactivated, RetiredAt: null } && now >= deactivated + PassiveWindow)
            {
                var kid = SigningKeys.KeyIdOf(key.PrivateKeyPem, key.Algorithm);
                if (await store.RetireAsync(key.Id, SigningKeys.PublicPemOf(key.PrivateKeyPem, key.Algorithm), now, cancellationToken))
                {
                    retired++;
                    LogRetired(logger, kid);
                    await audit.AppendAsync(
                        AuditEntry.Create(time, Actor.System, AuditActions.SigningKeyRetired, "signing_key", kid, new Dictionary<string, string>
                        {
                            ["deactivated_at"] = deactivated.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
                        }),
                        CancellationToken.None);
                }
            }
        }

        if (retired > 0)
        {
            await keys.RefreshAsync();
        }

        return new SigningKeyUpkeep(rotated, retired);
    }

    private SigningKeyInfo Describe(StoredSigningKey key, bool isActive)
    {
        var state = key.RetiredAt is not null ? SigningKeyState.Retired : isActive ? SigningKeyState.Active : SigningKeyState.Passive;
        return new SigningKeyInfo(
            SigningKeys.KeyIdOf(key.PrivateKeyPem, key.Algorithm),
            key.Algorithm.ToString(),
            key.CreatedAt,
            state,
            key.DeactivatedAt,
            state == SigningKeyState.Passive ? key.DeactivatedAt + PassiveWindow : null,
            key.RetiredAt,
            SigningKeySource.Store);
    }

    [LoggerMessage(EventId = 110, EventName = "SigningKeyRotated", Level = LogLevel.Information, Message = "Signing key {PreviousKid} replaced by {Kid} (by {Actor})")]
    private static partial void LogRotated(ILogger logger, string previousKid, string kid, string actor);

    [LoggerMessage(EventId = 111, EventName = "SigningKeyRetired", Level = LogLevel.Information, Message = "Signing key {Kid} retired")]
    private static partial void LogRetired(ILogger logger, string kid);
}
