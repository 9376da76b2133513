using IronAuth.Core.Budgets;
using Microsoft.Extensions.Options;

namespace IronAuth.Core.Configuration;

/// <summary>Checks <c>IronAuth:Budgets</c> at start, naming each bad setting.</summary>
public sealed class BudgetOptionsValidator : IValidateOptions<IronAuthOptions>
{
    public ValidateOptionsResult Validate(string? name, IronAuthOptions options)
    {
        var budgets = options.Budgets;
        var errors = new List<string>();
        if (budgets.LeaseLifetime < TimeSpan.FromSeconds(10) || budgets.LeaseLifetime > TimeSpan.FromDays(7))
        {
            errors.Add("IronAuth:Budgets:LeaseLifetime must be between 00:00:10 and 7.00:00:00.");
        }

        if (budgets.IcTokenLifetime < TimeSpan.FromMinutes(1) || budgets.IcTokenLifetime > TimeSpan.FromDays(366))
        {
            errors.Add("IronAuth:Budgets:IcTokenLifetime must be between 00:01:00 and 366.00:00:00.");
        }

        // Bounded: a rotated-out signing key stays published this long after its rotation (SigningKeyManager.PassiveWindow).
        if (budgets.MaxIcTokenLifetime < TimeSpan.FromHours(1) || budgets.MaxIcTokenLifetime > TimeSpan.FromDays(366))
        {
            errors.Add($"IronAuth:Budgets:MaxIcTokenLifetime must be between 01:00:00 and 366.00:00:00 (was {budgets.MaxIcTokenLifetime}).");
        }
        else if (budgets.IcTokenLifetime > budgets.MaxIcTokenLifetime)
        {
            errors.Add("IronAuth:Budgets:IcTokenLifetime must be at most IronAuth:Budgets:MaxIcTokenLifetime.");
        }

        if (budgets.MaxLifetime < TimeSpan.FromHours(1) || budgets.MaxLifetime > TimeSpan.FromDays(3660))
        {
            errors.Add("IronAuth:Budgets:MaxLifetime must be between 01:00:00 and 3660.00:00:00.");
        }

        if (budgets.DefaultLifetime < TimeSpan.FromHours(1) || budgets.DefaultLifetime > budgets.MaxLifetime)
        {
            errors.Add("IronAuth:Budgets:DefaultLifetime must be at least 01:00:00 and at most IronAuth:Budgets:MaxLifetime.");
        }

        if (budgets.RetentionDays is < 0 or > 3650)
        {
            errors.Add($"IronAuth:Budgets:RetentionDays must be between 0 and 3650 (was {budgets.RetentionDays}).");
        }

        if (string.IsNullOrWhiteSpace(budgets.IcTokenAudience) || budgets.IcTokenAudience == options.Jwt.Audience)
        {
            errors.Add("IronAuth:Budgets:IcTokenAudience must be set and differ from IronAuth:Jwt:Audience, so an IC token is never an access token's audience.");
        }

        // The value is never echoed: it is a secret.
        if (!string.IsNullOrWhiteSpace(budgets.CredentialKey) && !ProviderCredentials.IsValidKey(budgets.CredentialKey))
        {
            errors.Add("IronAuth:Budgets:CredentialKey must be 32 random bytes in base64 (e.g. `openssl rand -base64 32`).");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
