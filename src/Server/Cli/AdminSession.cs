using System.CommandLine;
using IronAuth.Core.Audit;
using IronAuth.Core.Configuration;
using IronAuth.Core.Storage;
using IronAuth.Core.Tokens;
using IronAuth.Core.Users;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace IronAuth.Server.Cli;

/// <summary>
/// The configured store and the Core services over it, for one admin command: a plain host (no Kestrel, no
/// scheduler) built from the server's configuration sources. The host is never started, so the hosted
/// initializer and its bootstrap admin do not run; the command validates the options and creates or migrates
/// the schema itself, the two steps every command needs.
/// </summary>
internal sealed class AdminSession(IHost host) : IAsyncDisposable
{
    public IServiceProvider Services => host.Services;

    public UserManager Users => Get<UserManager>();

    public TokenManager Tokens => Get<TokenManager>();

    public IAuditStore Audit => Get<IAuditStore>();

    public TimeProvider Time => Get<TimeProvider>();

    public IronAuthOptions Options => Get<IOptions<IronAuthOptions>>().Value;

    public static async Task<AdminSession> OpenAsync(CliContext cli, ParseResult parse, CancellationToken cancellationToken)
    {
        // A command reads its configuration once: no file watchers on appsettings.json.
        var configuration = new ConfigurationManager();
        configuration.AddInMemoryCollection([new("hostBuilder:reloadConfigOnChange", "false")]);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = [],
            Configuration = configuration,
            // The server (a web host) takes its environment from ASPNETCORE_ENVIRONMENT; read the same appsettings.{env}.json.
            EnvironmentName = System.Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT"),
        });
        builder.Configuration.AddInMemoryCollection(cli.ConfigurationOverrides(parse));

        // Output is for people and scripts: only warnings and errors are logged, and to standard error.
        builder.Logging.ClearProviders();
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.AddFilter<ConsoleLoggerProvider>(level => level >= LogLevel.Warning);

        builder.Services.AddIronAuthCore();
        builder.Services.AddIronAuthStore(builder.Configuration);
        cli.Environment.ConfigureHost?.Invoke(builder);

        var session = new AdminSession(builder.Build());
        try
        {
            // What ValidateOnStart would do: a bad setting fails with the validator's message before any work.
            _ = session.Options;
            await session.Get<IStoreLifecycle>().InitializeAsync(cancellationToken);
            return session;
        }
        catch
        {
            await session.DisposeAsync();
            throw;
        }
    }

    public T Get<T>()
        where T : notnull => host.Services.GetRequiredService<T>();

    public async ValueTask DisposeAsync()
    {
        if (host is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }
        else
        {
            host.Dispose();
        }
    }
}
