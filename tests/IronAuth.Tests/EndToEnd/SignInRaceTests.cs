using System.Net;
using System.Net.Http.Json;
using IronAuth.Core.Sessions;
using IronAuth.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace IronAuth.Tests.EndToEnd;

/// <summary>
/// A sign-in checks the password, then creates its session; a password reset writes the new hash, then revokes every
/// session. The session store here runs a reset (over HTTP) just before the sign-in's session is created, the
/// interleaving that used to leave a session made with the old password alive after the reset.
/// </summary>
public abstract class SignInRaceTests(string store) : IAsyncLifetime
{
    private readonly Interleaved sessions = new();
    private TestServer server = null!;

    public async Task InitializeAsync() =>
        server = await TestServer.StartAsync(store, services: services => services.AddSingleton<ISessionStore>(provider =>
        {
            // The store the server registered (the first registration), under the interleaving wrapper.
            var registered = services.First(d => d.ServiceType == typeof(ISessionStore) && d.ImplementationType is not null).ImplementationType!;
            sessions.Inner = (ISessionStore)ActivatorUtilities.CreateInstance(provider, registered);
            return sessions;
        }));

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task A_sign_in_whose_session_lands_after_a_password_reset_keeps_no_session()
    {
        var admin = server.NewClient((await server.LoginAdminAsync()).Access);
        var (username, password, user) = await server.CreateUserAsync("user");
        const string newPassword = "a-brand-new-passphrase-7";
        sessions.BeforeNextCreate = async () =>
        {
            var reset = (await (await admin.PostAsync($"api/users/{user.UserId}/password-reset", null)).ReadJsonAsync())["reset_token"]!.GetValue<string>();
            var confirmed = await server.Client.PostAsJsonAsync("api/auth/password-reset/confirm", new { reset_token = reset, new_password = newPassword });
            Assert.Equal(HttpStatusCode.NoContent, confirmed.StatusCode);
        };

        // The old password was right when checked; by the time its session exists, it is no longer the password.
        await (await server.Client.PostAsJsonAsync("api/auth/login", new { username, password }))
            .AssertProblemAsync(HttpStatusCode.Unauthorized, "invalid_credentials");
        Assert.Null(sessions.BeforeNextCreate);

        Assert.Equal(HttpStatusCode.OK, (await server.Client.PostAsJsonAsync("api/auth/login", new { username, password = newPassword })).StatusCode);
    }

    private sealed class Interleaved : ISessionStore
    {
        public ISessionStore Inner { get; set; } = null!;

        public Func<Task>? BeforeNextCreate { get; set; }

        public async Task CreateAsync(Session session, RefreshTokenRecord firstToken, CancellationToken cancellationToken)
        {
            if (BeforeNextCreate is { } before)
            {
                BeforeNextCreate = null;
                await before();
            }

            await Inner.CreateAsync(session, firstToken, cancellationToken);
        }

        public Task<Session?> FindAsync(string sessionId, CancellationToken cancellationToken) => Inner.FindAsync(sessionId, cancellationToken);

        public Task<RefreshTokenRecord?> FindRefreshTokenAsync(string sessionId, byte[] digest, CancellationToken cancellationToken) =>
            Inner.FindRefreshTokenAsync(sessionId, digest, cancellationToken);

        public Task<RotationOutcome> RotateAsync(string sessionId, byte[] presented, RefreshTokenRecord next, DateTimeOffset now, CancellationToken cancellationToken) =>
            Inner.RotateAsync(sessionId, presented, next, now, cancellationToken);

        public Task<bool> RevokeAsync(string sessionId, string reason, DateTimeOffset now, CancellationToken cancellationToken) =>
            Inner.RevokeAsync(sessionId, reason, now, cancellationToken);

        public Task<int> RevokeAllAsync(string userId, string? exceptSessionId, string reason, DateTimeOffset now, CancellationToken cancellationToken) =>
            Inner.RevokeAllAsync(userId, exceptSessionId, reason, now, cancellationToken);
    }
}

public sealed class SqliteSignInRaceTests() : SignInRaceTests(TestStore.Sqlite);

public sealed class TablesSignInRaceTests() : SignInRaceTests(TestStore.Tables);
