using System.Collections.Concurrent;
using IronAuth.Core.Accounts;
using IronAuth.Core.Storage;
using IronAuth.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace IronAuth.Tests.Accounts;

/// <summary>What an email request past its per-address limit leaves in the logs (the HTTP answer is in RegistrationTests).</summary>
public sealed class EmailRequestLogTests
{
    [Fact]
    public async Task A_request_past_the_limit_is_logged_at_information_by_pseudonym_never_by_address()
    {
        using var store = await TestStore.CreateAsync(TestStore.Sqlite);
        using var pickup = new TempDirectory();
        var settings = new Dictionary<string, string?>(store.Settings)
        {
            ["IronAuth:Jwt:Issuer"] = store.Issuer,
            ["IronAuth:Jwt:SigningKey"] = TestServer.SharedSigningKey.Value,
            ["IronAuth:Registration:Enabled"] = "true",
            ["IronAuth:Email:PickupDirectory"] = pickup.Path,
            ["IronAuth:Email:From"] = SmtpInbox.From,
        };
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var logs = new CapturedLogs();
        var collection = new ServiceCollection();
        collection.AddSingleton<IConfiguration>(configuration);
        collection.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Trace).AddProvider(logs));
        collection.AddIronAuthCore();
        collection.AddIronAuthStore(configuration);
        collection.AddSingleton<TimeProvider>(new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero)));
        await using var services = collection.BuildServiceProvider();
        await services.GetRequiredService<IStoreLifecycle>().InitializeAsync(default);
        var accounts = services.GetRequiredService<AccountManager>();
        var email = $"Person.{Guid.NewGuid():N}@Example.com";

        for (var i = 0; i < 6; i++)
        {
            Assert.Null(await accounts.RequestPasswordResetAsync(email, "127.0.0.1", default));
        }

        var entry = Assert.Single(logs.Entries, e => e.EventName == "EmailRequestOverLimit");
        Assert.Equal(LogLevel.Information, entry.Level);
        Assert.Matches("pseudonym [0-9a-f]{32}", entry.Message);
        var local = email.Split('@')[0];
        Assert.All(logs.Entries, e => Assert.DoesNotContain(local, e.Message, StringComparison.OrdinalIgnoreCase));
    }

    private sealed record LogEntry(string Category, LogLevel Level, string? EventName, string Message);

    private sealed class CapturedLogs : ILoggerProvider
    {
        public ConcurrentQueue<LogEntry> Entries { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, Entries);

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<LogEntry> entries) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                entries.Enqueue(new LogEntry(category, logLevel, eventId.Name, formatter(state, exception)));
        }
    }
}
