using IronAuth.Core.Configuration;
using IronAuth.Core.Signing;
using IronAuth.Core.Storage;
using IronAuth.Core.Users;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IronAuth.Core.Hosting;

/// <summary>
/// Runs before the host serves requests: creates or migrates the schema and creates the bootstrap admin when
/// the store has no user at all. The signing key is loaded (or generated and stored) beside it rather than
/// before listening: loading it costs about 200 ms of start-up (IdentityModel's first use), and every request
/// that needs it awaits the same load. A configured key was already checked by the options validation.
/// </summary>
public sealed partial class IronAuthInitializer(
    IStoreLifecycle store,
    SigningKeys signingKeys,
    IUserStore users,
    UserManager userManager,
    Readiness readiness,
    IOptions<IronAuthOptions> options,
    ILogger<IronAuthInitializer> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await store.InitializeAsync(cancellationToken);
        readiness.SchemaDone();
        _ = Task.Run(LoadSigningKeyAsync, CancellationToken.None);
        await BootstrapAdminAsync(cancellationToken);
        readiness.BootstrapDone();
    }

    private async Task LoadSigningKeyAsync()
    {
        try
        {
            var key = await signingKeys.GetAsync();
            readiness.SigningKeyLoaded();
            LogReady(logger, store.Name, key.Algorithm, key.KeyId);
        }
        catch (Exception e)
        {
            // Requests that need the key try the load again and fail the same way while the cause lasts; say why once here.
            LogKeyFailed(logger, e);
        }
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

    [LoggerMessage(EventId = 103, EventName = "SigningKeyFailed", Level = LogLevel.Critical, Message = "The JWT signing key could not be loaded; sign-in and token validation will fail")]
    private static partial void LogKeyFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 101, EventName = "BootstrapAdminCreated", Level = LogLevel.Information, Message = "Created bootstrap admin {Username}")]
    private static partial void LogBootstrapCreated(ILogger logger, string username);

    [LoggerMessage(EventId = 102, EventName = "BootstrapAdminSkipped", Level = LogLevel.Information, Message = "Bootstrap admin not created: the store already has users")]
    private static partial void LogBootstrapSkipped(ILogger logger);
}
