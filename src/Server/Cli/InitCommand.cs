using System.CommandLine;
using IronAuth.Core;
using IronAuth.Core.Signing;
using IronAuth.Core.Storage;
using IronAuth.Core.Users;

namespace IronAuth.Server.Cli;

/// <summary><c>ironauth init</c>: prepares a store and, optionally, its first admin.</summary>
internal static class InitCommand
{
    public static Command Create(CliContext cli)
    {
        var username = new Option<string>("--admin-username") { Description = "Also create an admin with this username." };
        var passwordStdin = new Option<bool>("--admin-password-stdin")
        {
            Description = "Read the admin's password from the first line of standard input (otherwise it is asked for on the terminal).",
        };
        var force = new Option<bool>("--force") { Description = "Create the admin even though the store already has an active admin." };
        var command = new Command("init", "Create or migrate the schema, create the signing key if there is none, and optionally an admin.")
        {
            username,
            passwordStdin,
            force,
        };
        command.Validators.Add(result =>
        {
            if (result.GetValue(username) is null && (result.GetValue(passwordStdin) || result.GetValue(force)))
            {
                result.AddError("--admin-password-stdin and --force need --admin-username.");
            }
        });

        command.SetAction((parse, cancellationToken) => cli.RunAsync(parse, cancellationToken, async session =>
        {
            // The session has created or migrated the schema; loading the key stores a new one if none is kept.
            var key = await session.Get<SigningKeys>().GetAsync();
            cli.Out.WriteLine($"Store {session.Get<IStoreLifecycle>().Name} is ready; signing with {key.Algorithm} key {key.KeyId}.");
            if (parse.GetValue(username) is not { } name)
            {
                return IronAuthCli.Succeeded;
            }

            if (UsernameRules.CheckUsername(name) is { } invalid)
            {
                return cli.Fail(invalid);
            }

            var admins = await session.Users.ListAsync(new UserQuery(Role.Admin, UserStatus.Active, null, 1), cancellationToken);
            if (admins.Items.FirstOrDefault() is { } existing && !parse.GetValue(force))
            {
                return cli.Fail($"The store already has an active admin ('{existing.Username}'); pass --force to create another.");
            }

            if (cli.ReadNewPassword(parse, passwordStdin, name, out var exitCode) is not { } password)
            {
                return exitCode;
            }

            var created = await session.Users.CreateAsync(Actor.LocalOperator, new NewUser(name, password, Role.Admin), cancellationToken);
            if (created.Failure is { } failure)
            {
                return cli.Fail(failure);
            }

            cli.Out.WriteLine($"Created admin '{created.Value!.Username}' ({created.Value.Id}).");
            return IronAuthCli.Succeeded;
        }));
        return command;
    }
}
