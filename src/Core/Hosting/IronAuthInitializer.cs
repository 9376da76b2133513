using IronAuth.Core.Configuration;
using IronAuth.Core.Signing;
using IronAuth.Core.Storage;
using IronAuth.Core.Users;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IronAuth.Core.Hosting;

/// <summary>
/// Runs before the host serves requests: creates or migrates the schema, loads (or generates) the
/// signing key, and creates the bootstrap admin when the store has no user at all.
/// </summary>
public sealed partial class IronAuthInitializer(
    IStoreLifecycle store,
    SigningKeys signingKeys,
    IUserStore users,
    UserManager userManager,
    IOptions<IronAuthOptions> options,
    ILogger<IronAuthInitializer> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await store.InitializeAsync(cancellationToken);
        var key = await signingKeys.GetAsync();
        LogReady(logger, store.Name, key.Algorithm, key.KeyId);
        await BootstrapAdminAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private async Task BootstrapAdminAsync(CancellationToken cancellationToken)
    {
        var bootstrap = options.Value.Bootstrap;
        if (string.IsNullOrEmpty(bootstrap.AdminUsername) || string.IsNullOrEmpty(bootstrap.AdminPassword))
        {
            return;
        }

        if (await users.AnyAsync(cancellationToken))
        {
            LogBootstrapSkipped(logger);
            return;
        }

        var created = await userManager.CreateAsync(
            Actor.System, new NewUser(bootstrap.AdminUsername, bootstrap.AdminPassword, Role.Admin), cancellationToken);
        switch (created.Failure)
        {
            case null:
                LogBootstrapCreated(logger, created.Value!.Username);
                break;
            case { Code: "username_taken" }:
                // Another instance starting at the same moment created it first.
                LogBootstrapSkipped(logger);
                break;
            case { } failure:
                throw new OptionsValidationException(
                    BootstrapOptionsName, typeof(BootstrapOptions), [$"IronAuth:Bootstrap: {failure.Detail}"]);
        }
    }

    private const string BootstrapOptionsName = "IronAuth:Bootstrap";

    [LoggerMessage(EventId = 100, EventName = "StoreReady", Level = LogLevel.Information, Message = "Store {Store} ready; signing with {Algorithm} key {KeyId}")]
    private static partial void LogReady(ILogger logger, string store, string algorithm, string keyId);

    [LoggerMessage(EventId = 101, EventName = "BootstrapAdminCreated", Level = LogLevel.Information, Message = "Created bootstrap admin {Username}")]
    private static partial void LogBootstrapCreated(ILogger logger, string username);

    [LoggerMessage(EventId = 102, EventName = "BootstrapAdminSkipped", Level = LogLevel.Information, Message = "Bootstrap admin not created: the store already has users")]
    private static partial void LogBootstrapSkipped(ILogger logger);
}
