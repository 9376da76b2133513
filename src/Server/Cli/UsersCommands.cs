using System.CommandLine;
using IronAuth.Api.Contracts;
using IronAuth.Core;
using IronAuth.Core.Mfa;
using IronAuth.Core.Users;

namespace IronAuth.Server.Cli;

/// <summary><c>ironauth users …</c>: the admin's user operations of the HTTP API, as the local operator.</summary>
internal static class UsersCommands
{
    private static readonly string[] Roles = ["admin", "user", "viewer"];

    public static Command Create(CliContext cli) => new("users", "Create, list, show and change user accounts.")
    {
        CreateCommand(cli),
        ListCommand(cli),
        ShowCommand(cli),
        SuspendCommand(cli),
        SimpleCommand(cli, "activate", "Reactivate a suspended user (also clears a sign-in lockout).", (users, id, ct) => users.ActivateAsync(Actor.LocalOperator, id, ct), "Activated"),
        SimpleCommand(cli, "delete", "Delete a user: it can no longer sign in and its sessions end.", (users, id, ct) => users.DeleteAsync(Actor.LocalOperator, id, ct), "Deleted"),
        SetRoleCommand(cli),
        ResetPasswordCommand(cli),
        // ---- Accounts (issue 16) ----
        ResetMfaCommand(cli),
        // ---- end Accounts ----
    };

    private static Argument<string> UserArgument() => new("user") { Description = "The user's username or id." };

    private static Command CreateCommand(CliContext cli)
    {
        var username = new Argument<string>("username") { Description = "The new user's username." };
        var role = CliContext.WithValues(new Option<string>("--role") { Description = "The role.", DefaultValueFactory = _ => "user" }, StringComparer.Ordinal, Roles);
        var email = new Option<string>("--email") { Description = "The user's email address." };
        var displayName = new Option<string>("--display-name") { Description = "The user's display name." };
        var passwordStdin = new Option<bool>("--password-stdin")
        {
            Description = "Read the password from the first line of standard input (otherwise it is asked for on the terminal).",
        };
        var command = new Command("create", "Create a user.") { username, role, email, displayName, passwordStdin };
        command.SetAction((parse, cancellationToken) => cli.RunAsync(parse, cancellationToken, async session =>
        {
            var name = parse.GetRequiredValue(username);
            if (UsernameRules.CheckUsername(name) is { } invalid)
            {
                return cli.Fail(invalid);
            }

            if (cli.ReadNewPassword(parse, passwordStdin, name, out var exitCode) is not { } password)
            {
                return exitCode;
            }

            RoleNames.TryParseRole(parse.GetValue(role), out var parsedRole);
            var created = await session.Users.CreateAsync(
                Actor.LocalOperator,
                new NewUser(name, password, parsedRole, parse.GetValue(email), parse.GetValue(displayName)),
                cancellationToken);
            return Report(cli, created, user => $"Created user '{user.Username}' ({user.Role.ToWire()}, {user.Id}).");
        }));
        return command;
    }

    private static Command ListCommand(CliContext cli)
    {
        var role = CliContext.WithValues(new Option<string>("--role") { Description = "Only users with this role." }, StringComparer.Ordinal, Roles);
        var status = CliContext.WithValues(
            new Option<string>("--status") { Description = "Only users in this state." }, StringComparer.Ordinal, "active", "suspended", "deleted");
        var json = new Option<bool>("--json") { Description = "Write JSON (the HTTP API's user objects)." };
        var command = new Command("list", "List users, oldest first.") { role, status, json };
        command.SetAction((parse, cancellationToken) => cli.RunAsync(parse, cancellationToken, async session =>
        {
            Role? roleFilter = RoleNames.TryParseRole(parse.GetValue(role), out var parsedRole) ? parsedRole : null;
            UserStatus? statusFilter = RoleNames.TryParseStatus(parse.GetValue(status), out var parsedStatus) ? parsedStatus : null;
            var users = new List<User>();
            string? position = null;
            do
            {
                var page = await session.Users.ListAsync(new UserQuery(roleFilter, statusFilter, position, UserManager.MaxPageSize), cancellationToken);
                users.AddRange(page.Items);
                position = page.Next;
            }
            while (position is not null);

            if (parse.GetValue(json))
            {
                cli.WriteJson(users.Select(UserResponse.From));
                return IronAuthCli.Succeeded;
            }

            TextTable.Write(
                cli.Out,
                ["ID", "USERNAME", "ROLE", "STATUS", "EMAIL", "CREATED"],
                users.Select(u => new[] { u.Id, u.Username, u.Role.ToWire(), u.Status.ToWire(), u.Email ?? "-", CliContext.Time(u.CreatedAt) }));
            return IronAuthCli.Succeeded;
        }));
        return command;
    }

    private static Command ShowCommand(CliContext cli)
    {
        var user = UserArgument();
        var json = new Option<bool>("--json") { Description = "Write JSON (the HTTP API's user object)." };
        var command = new Command("show", "Show one user.") { user, json };
        command.SetAction((parse, cancellationToken) => cli.RunAsync(parse, cancellationToken, async session =>
        {
            var found = await CliContext.FindUserAsync(session, parse.GetRequiredValue(user), cancellationToken);
            if (found.Value is not { } u)
            {
                return cli.Fail(found.Failure!);
            }

            if (parse.GetValue(json))
            {
                cli.WriteJson(UserResponse.From(u));
                return IronAuthCli.Succeeded;
            }

            TextTable.WritePairs(cli.Out,
            [
                ("id", u.Id),
                ("username", u.Username),
                ("email", u.Email ?? "-"),
                ("display_name", u.DisplayName ?? "-"),
                ("role", u.Role.ToWire()),
                ("status", u.Status.ToWire()),
                ("status_reason", u.StatusReason ?? "-"),
                ("locked_until", CliContext.Time(u.LockedUntil)),
                ("created_at", CliContext.Time(u.CreatedAt)),
                ("updated_at", CliContext.Time(u.UpdatedAt)),
            ]);
            return IronAuthCli.Succeeded;
        }));
        return command;
    }

    private static Command SuspendCommand(CliContext cli)
    {
        var user = UserArgument();
        var reason = new Option<string>("--reason") { Description = "Why, for the record (at most 500 characters)." };
        var command = new Command("suspend", "Suspend a user: it can no longer sign in and its sessions end.") { user, reason };
        return WithUserAction(
            cli, command, user, (session, parse, id, ct) => session.Users.SuspendAsync(Actor.LocalOperator, id, parse.GetValue(reason), ct), "Suspended");
    }

    private static Command SimpleCommand(
        CliContext cli, string name, string description, Func<UserManager, string, CancellationToken, Task<Result<User>>> change, string done)
    {
        var user = UserArgument();
        return WithUserAction(cli, new Command(name, description) { user }, user, (session, _, id, ct) => change(session.Users, id, ct), done);
    }

    // ---- Accounts (issue 16) ----
    private static Command ResetMfaCommand(CliContext cli)
    {
        var user = UserArgument();
        return WithUserAction(
            cli,
            new Command("reset-mfa", "Turn a user's two-factor sign-in off (a lost authenticator and no recovery codes).") { user },
            user,
            (session, _, id, ct) => session.Services.GetRequiredService<MfaManager>().ResetAsync(Actor.LocalOperator, id, ct),
            "Turned two-factor sign-in off for");
    }
    // ---- end Accounts ----

    private static Command SetRoleCommand(CliContext cli)
    {
        var user = UserArgument();
        var role = new Argument<string>("role") { Description = "admin, user or viewer." };
        role.AcceptOnlyFromAmong(Roles);
        var command = new Command("set-role", "Change a user's role.") { user, role };
        return WithUserAction(
            cli,
            command,
            user,
            (session, parse, id, ct) =>
            {
                RoleNames.TryParseRole(parse.GetRequiredValue(role), out var parsedRole);
                return session.Users.SetRoleAsync(Actor.LocalOperator, id, parsedRole, ct);
            },
            "Changed the role of");
    }

    private static Command ResetPasswordCommand(CliContext cli)
    {
        var user = UserArgument();
        var command = new Command(
            "reset-password",
            "Issue a one-time password reset token, printed once on standard output. The user (or you) spends it with "
            + "POST /api/auth/password-reset/confirm.")
        {
            user,
        };
        command.SetAction((parse, cancellationToken) => cli.RunAsync(parse, cancellationToken, async session =>
        {
            var found = await CliContext.FindUserAsync(session, parse.GetRequiredValue(user), cancellationToken);
            if (found.Value is not { } target)
            {
                return cli.Fail(found.Failure!);
            }

            var issued = await session.Users.IssuePasswordResetAsync(Actor.LocalOperator, target.Id, cancellationToken);
            if (issued.Value is not { } reset)
            {
                return cli.Fail(issued.Failure!);
            }

            // The secret alone on standard output, so `TOKEN=$(ironauth users reset-password ada)` works.
            cli.Out.WriteLine(reset.Token);
            cli.Error.WriteLine($"Reset token for '{target.Username}', valid until {CliContext.Time(reset.ExpiresAt)}. It is shown only this once.");
            return IronAuthCli.Succeeded;
        }));
        return command;
    }

    /// <summary>Makes <paramref name="command"/> find its <paramref name="user"/> (username or id) and apply one change to it.</summary>
    private static Command WithUserAction(
        CliContext cli,
        Command command,
        Argument<string> user,
        Func<AdminSession, ParseResult, string, CancellationToken, Task<Result<User>>> change,
        string done)
    {
        command.SetAction((parse, cancellationToken) => cli.RunAsync(parse, cancellationToken, async session =>
        {
            var found = await CliContext.FindUserAsync(session, parse.GetRequiredValue(user), cancellationToken);
            if (found.Value is not { } target)
            {
                return cli.Fail(found.Failure!);
            }

            var changed = await change(session, parse, target.Id, cancellationToken);
            return Report(cli, changed, u => $"{done} '{u.Username}' (role {u.Role.ToWire()}, {u.Status.ToWire()}).");
        }));
        return command;
    }

    private static int Report(CliContext cli, Result<User> result, Func<User, string> message)
    {
        if (result.Failure is { } failure)
        {
            return cli.Fail(failure);
        }

        cli.Out.WriteLine(message(result.Value!));
        return IronAuthCli.Succeeded;
    }
}
