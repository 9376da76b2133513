using System.CommandLine;
using IronAuth.Api.Contracts;
using IronAuth.Core;
using IronAuth.Core.Signing;

namespace IronAuth.Server.Cli;

/// <summary><c>ironauth keys …</c>: list the JWT signing keys and rotate the active one, as the local operator.</summary>
internal static class KeysCommands
{
    public static Command Create(CliContext cli) => new("keys", "List the JWT signing keys and rotate the active one.")
    {
        ListCommand(cli),
        RotateCommand(cli),
    };

    private static Command ListCommand(CliContext cli)
    {
        var json = new Option<bool>("--json") { Description = "Write JSON (the HTTP API's key list)." };
        var command = new Command("list", "List the signing keys: active, passive (still verifying older tokens) and retired.") { json };
        command.SetAction((parse, cancellationToken) => cli.RunAsync(parse, cancellationToken, async session =>
        {
            var keys = (await session.Get<SigningKeyManager>().ListAsync(cancellationToken)).Select(SigningKeyResponse.From).ToList();
            if (parse.GetValue(json))
            {
                cli.WriteJson(new SigningKeysResponse(keys));
                return IronAuthCli.Succeeded;
            }

            TextTable.Write(
                cli.Out,
                ["KID", "ALG", "STATE", "SOURCE", "CREATED", "RETIRE AFTER"],
                keys.Select(k => (IReadOnlyList<string>)[k.Kid, k.Algorithm, k.State, k.Source, CliContext.Time(k.CreatedAt), CliContext.Time(k.RetireAfter ?? k.RetiredAt)]));
            return IronAuthCli.Succeeded;
        }));
        return command;
    }

    private static Command RotateCommand(CliContext cli)
    {
        var json = new Option<bool>("--json") { Description = "Write JSON (the HTTP API's new key object)." };
        var command = new Command(
            "rotate",
            "Make a new active signing key. The old one stays passive (published and accepted) until no unexpired token can carry it, "
            + "so nobody is logged out; maintenance then retires it. Running servers pick the new key up within IronAuth:Jwt:KeyRefreshInterval.")
        {
            json,
        };
        command.SetAction((parse, cancellationToken) => cli.RunAsync(parse, cancellationToken, async session =>
        {
            var rotated = await session.Get<SigningKeyManager>().RotateAsync(Actor.LocalOperator, cancellationToken);
            if (rotated.Value is not { } key)
            {
                return cli.Fail(rotated.Failure!);
            }

            var response = SigningKeyResponse.From(key);
            if (parse.GetValue(json))
            {
                cli.WriteJson(response);
                return IronAuthCli.Succeeded;
            }

            cli.Out.WriteLine(response.Kid);
            cli.Error.WriteLine($"New active {response.Algorithm} signing key {response.Kid}; the previous key stays passive until its tokens have expired.");
            return IronAuthCli.Succeeded;
        }));
        return command;
    }
}
