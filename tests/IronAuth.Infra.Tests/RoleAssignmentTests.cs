using System.Text.RegularExpressions;
using IronAuth.Infra.Tests.Support;

namespace IronAuth.Infra.Tests;

[Collection(InfraCollection.Name)]
public sealed class RoleAssignmentTests(CompiledInfra infra)
{
    private List<ArmResource> Assignments => infra.Template.OfType("Microsoft.Authorization/roleAssignments").ToList();

    private static string RoleOf(ArmResource assignment) =>
        Regex.Match((string)assignment.Properties["roleDefinitionId"]!, "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").Value;

    private static string ScopeOf(ArmResource assignment) => (string?)assignment.Node["scope"] ?? "";

    [Fact]
    public void App_identity_gets_exactly_blob_owner_and_table_contributor_on_storage_and_secrets_user_on_the_vault()
    {
        var granted = Assignments
            .Select(a => (Role: RoleOf(a), Scope: ScopeOf(a).Contains("Microsoft.Storage/storageAccounts", StringComparison.Ordinal) ? "storage"
                : ScopeOf(a).Contains("Microsoft.KeyVault/vaults", StringComparison.Ordinal) ? "vault" : ScopeOf(a)))
            .OrderBy(g => g.Role, StringComparer.Ordinal)
            .ToList();

        Assert.Equal(
            new[]
            {
                (RoleDefinitions.StorageTableDataContributor, "storage"),
                (RoleDefinitions.KeyVaultSecretsUser, "vault"),
                (RoleDefinitions.StorageBlobDataOwner, "storage"),
            }.OrderBy(g => g.Item1, StringComparer.Ordinal),
            granted);
    }

    [Theory]
    [InlineData(RoleDefinitions.StorageQueueDataContributor)]
    [InlineData(RoleDefinitions.StorageAccountContributor)]
    public void App_identity_gets_no_role_that_only_blob_queue_or_durable_triggers_need(string role)
    {
        // IronAuth has HTTP and timer triggers only; the Functions docs list these roles for other triggers.
        Assert.DoesNotContain(role, Assignments.Select(RoleOf));
    }

    [Fact]
    public void Every_role_assignment_goes_to_the_function_apps_identity()
    {
        Assert.All(Assignments, a =>
        {
            Assert.Equal("[parameters('principalId')]", (string?)a.Properties["principalId"]);
            Assert.Equal("ServicePrincipal", (string?)a.Properties["principalType"]);
            Assert.Equal("access", a.Module);
        });

        var principal = (string?)infra.Template.Module("access").Properties["parameters"]?["principalId"]?["value"];
        Assert.Equal("[reference(resourceId('Microsoft.Resources/deployments', 'functionapp'), '2025-04-01').outputs.principalId.value]", principal);
        var output = (string?)infra.Template.ModuleTemplate("functionapp")["outputs"]?["principalId"]?["value"];
        Assert.Equal("[reference(resourceId('Microsoft.Web/sites', parameters('functionAppName')), '2024-11-01', 'full').identity.principalId]", output);
    }

    [Fact]
    public void Role_assignment_names_are_guids_of_scope_principal_and_role()
    {
        Assert.All(Assignments, a =>
        {
            Assert.StartsWith("[guid(", a.Name, StringComparison.Ordinal);
            Assert.Contains("parameters('principalId')", a.Name, StringComparison.Ordinal);
            Assert.Contains(RoleOf(a), a.Name, StringComparison.Ordinal);
        });
    }
}
