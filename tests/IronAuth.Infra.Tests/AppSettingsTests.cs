using System.Text.Json.Nodes;
using IronAuth.Infra.Tests.Support;

namespace IronAuth.Infra.Tests;

[Collection(InfraCollection.Name)]
public sealed class AppSettingsTests(CompiledInfra infra)
{
    private ArmResource Config => infra.Template.OfType("Microsoft.Web/sites/config").Single(c => c.ChildName == "appsettings");

    private JsonObject Settings => Config.Properties;

    private string Setting(string name)
    {
        Assert.True(Settings.ContainsKey(name), $"App setting {name} is missing.");
        return (string)Settings[name]!;
    }

    [Fact]
    public void Store_setting_is_tables()
    {
        Assert.Equal("tables", Setting("IronAuth__Store"));
    }

    [Fact]
    public void Signing_key_setting_is_a_key_vault_reference_to_the_signing_key_secret()
    {
        Assert.Equal(
            "[format('@Microsoft.KeyVault(SecretUri={0})', reference(resourceId('Microsoft.Resources/deployments', 'keyvault'), '2025-04-01').outputs.signingKeySecretUri.value)]",
            Setting("IronAuth__Jwt__SigningKey"));

        var secretUri = (string?)infra.Template.ModuleTemplate("keyvault")["outputs"]?["signingKeySecretUri"]?["value"];
        Assert.Equal(
            "[format('{0}secrets/{1}/', reference(resourceId('Microsoft.KeyVault/vaults', parameters('keyVaultName')), '2024-11-01').vaultUri, parameters('signingKeySecretName'))]",
            secretUri);
    }

    [Fact]
    public void Host_storage_is_reached_by_identity_not_by_connection_string()
    {
        Assert.Equal("[variables('storageAccountName')]", Setting("AzureWebJobsStorage__accountName"));
        Assert.False(Settings.ContainsKey("AzureWebJobsStorage"), "AzureWebJobsStorage would be a connection string with a key.");
    }

    [Fact]
    public void Tables_service_uri_is_the_storage_accounts_table_endpoint()
    {
        Assert.Equal(
            "[reference(resourceId('Microsoft.Resources/deployments', 'storage'), '2025-04-01').outputs.tableEndpoint.value]",
            Setting("IronAuth__Tables__ServiceUri"));
        var endpoint = (string?)infra.Template.ModuleTemplate("storage")["outputs"]?["tableEndpoint"]?["value"];
        Assert.Contains(".primaryEndpoints.table", endpoint, StringComparison.Ordinal);
    }

    [Fact]
    public void Application_insights_connection_string_is_wired()
    {
        Assert.Equal(
            "[reference(resourceId('Microsoft.Insights/components', variables('applicationInsightsName')), '2020-02-02').ConnectionString]",
            Setting("APPLICATIONINSIGHTS_CONNECTION_STRING"));
    }

    [Fact]
    public void Application_insights_is_backed_by_the_log_analytics_workspace()
    {
        var component = infra.Template.Single("Microsoft.Insights/components");
        infra.Template.Single("Microsoft.OperationalInsights/workspaces");

        Assert.Equal(
            "[resourceId('Microsoft.OperationalInsights/workspaces', parameters('logAnalyticsName'))]",
            (string?)component.Properties["WorkspaceResourceId"]);
    }

    [Fact]
    public void The_issuer_is_the_parameter_or_else_the_apps_own_https_address_with_the_api_prefix()
    {
        var issuer = Setting("IronAuth__Jwt__Issuer");

        Assert.StartsWith("[if(empty(parameters('jwtIssuer')), format('https://{0}/api',", issuer, StringComparison.Ordinal);
        Assert.Contains("defaultHostName", issuer, StringComparison.Ordinal);
        Assert.EndsWith("parameters('jwtIssuer'))]", issuer, StringComparison.Ordinal);
        Assert.Equal("", (string?)infra.Template.Root["parameters"]?["jwtIssuer"]?["defaultValue"]);
    }

    [Theory]
    [InlineData("IronAuth__Jwt__Audience", "jwtAudience", "ironauth")]
    [InlineData("IronAuth__Maintenance__Schedule", "maintenanceSchedule", "0 */5 * * * *")]
    public void Token_and_maintenance_settings_come_from_parameters_with_defaults(string setting, string parameter, string defaultValue)
    {
        Assert.Equal($"[parameters('{parameter}')]", Setting(setting));
        Assert.Equal(defaultValue, (string?)infra.Template.Root["parameters"]?[parameter]?["defaultValue"]);
    }

    [Fact]
    public void Flex_consumption_settings_that_the_platform_rejects_are_absent()
    {
        // Flex Consumption takes the runtime from functionAppConfig and refuses these settings.
        Assert.False(Settings.ContainsKey("FUNCTIONS_WORKER_RUNTIME"));
        Assert.False(Settings.ContainsKey("FUNCTIONS_EXTENSION_VERSION"));
        Assert.False(Settings.ContainsKey("WEBSITE_RUN_FROM_PACKAGE"));
    }

    [Fact]
    public void Settings_are_applied_after_the_role_assignments()
    {
        // Otherwise the host can start before it may read storage or the signing key.
        var dependsOn = Config.Node["dependsOn"]!.AsArray().Select(d => (string?)d).ToList();

        Assert.Contains("[resourceId('Microsoft.Resources/deployments', 'access')]", dependsOn);
        Assert.Contains("[resourceId('Microsoft.Resources/deployments', 'functionapp')]", dependsOn);
    }
}

// ---- Accounts (issue 16) ----
[Collection(InfraCollection.Name)]
public sealed class AccountSettingsTests(CompiledInfra infra)
{
    private JsonObject Settings => infra.Template.OfType("Microsoft.Web/sites/config").Single(c => c.ChildName == "appsettings").Properties;

    private JsonNode? Parameter(string name) => infra.Template.Root["parameters"]?[name];

    [Fact]
    public void Smtp_password_setting_is_a_key_vault_reference_and_never_the_password()
    {
        Assert.Equal(
            "[if(empty(parameters('smtpUsername')), '', format('@Microsoft.KeyVault(SecretUri={0})', reference(resourceId('Microsoft.Resources/deployments', 'keyvault'), '2025-04-01').outputs.smtpSecretUri.value))]",
            (string?)Settings["IronAuth__Email__Smtp__Password"]);
        Assert.DoesNotContain(Settings, s => s.Value?.ToJsonString().Contains("parameters('smtpPassword')", StringComparison.Ordinal) == true);
        var secretUri = (string?)infra.Template.ModuleTemplate("keyvault")["outputs"]?["smtpSecretUri"]?["value"];
        Assert.Equal(
            "[format('{0}secrets/{1}/', reference(resourceId('Microsoft.KeyVault/vaults', parameters('keyVaultName')), '2024-11-01').vaultUri, parameters('smtpPasswordSecretName'))]",
            secretUri);
    }

    [Fact]
    public void Smtp_password_parameter_is_secure_optional_and_written_to_key_vault_only_when_given()
    {
        Assert.Equal("securestring", (string?)Parameter("smtpPassword")?["type"]);
        Assert.Equal("", (string?)Parameter("smtpPassword")?["defaultValue"]);
        var secret = infra.Template.OfType("Microsoft.KeyVault/vaults/secrets").Single(s => s.Node["condition"]?.ToString().Contains("smtpPassword", StringComparison.Ordinal) == true);
        Assert.Equal("[not(empty(parameters('smtpPassword')))]", (string?)secret.Node["condition"]);
        Assert.Equal("[parameters('smtpPassword')]", (string?)secret.Properties["value"]);
    }

    [Fact]
    public void Email_and_registration_settings_come_from_parameters_and_registration_is_off_by_default()
    {
        Assert.Equal("[parameters('smtpHost')]", (string?)Settings["IronAuth__Email__Smtp__Host"]);
        Assert.Equal("[string(parameters('smtpPort'))]", (string?)Settings["IronAuth__Email__Smtp__Port"]);
        Assert.Equal("[parameters('emailFrom')]", (string?)Settings["IronAuth__Email__From"]);
        Assert.Equal("[if(parameters('registrationEnabled'), 'true', 'false')]", (string?)Settings["IronAuth__Registration__Enabled"]);
        Assert.False((bool?)Parameter("registrationEnabled")?["defaultValue"]);
        Assert.Equal(587, (int?)Parameter("smtpPort")?["defaultValue"]);
    }

    [Fact]
    public void Mfa_encryption_key_is_a_key_vault_reference_when_used()
    {
        Assert.Equal("securestring", (string?)Parameter("mfaEncryptionKey")?["type"]);
        Assert.Equal(
            "[if(parameters('useMfaEncryptionKey'), format('@Microsoft.KeyVault(SecretUri={0})', reference(resourceId('Microsoft.Resources/deployments', 'keyvault'), '2025-04-01').outputs.mfaEncryptionKeySecretUri.value), '')]",
            (string?)Settings["IronAuth__Mfa__EncryptionKey"]);
    }
}
// ---- end Accounts ----

// ---- Budgets (issue 18) ----
[Collection(InfraCollection.Name)]
public sealed class BudgetSettingsTests(CompiledInfra infra)
{
    private JsonObject Settings => infra.Template.OfType("Microsoft.Web/sites/config").Single(c => c.ChildName == "appsettings").Properties;

    private JsonNode? Parameter(string name) => infra.Template.Root["parameters"]?[name];

    [Fact]
    public void Budget_credential_key_setting_is_a_key_vault_reference_when_used_and_never_the_key()
    {
        Assert.True(Settings.ContainsKey("IronAuth__Budgets__CredentialKey"), "App setting IronAuth__Budgets__CredentialKey is missing.");
        Assert.Equal(
            "[if(parameters('useBudgetCredentialKey'), format('@Microsoft.KeyVault(SecretUri={0})', reference(resourceId('Microsoft.Resources/deployments', 'keyvault'), '2025-04-01').outputs.budgetCredentialKeySecretUri.value), '')]",
            (string?)Settings["IronAuth__Budgets__CredentialKey"]);
        Assert.DoesNotContain(Settings, s => s.Value?.ToJsonString().Contains("parameters('budgetCredentialKey')", StringComparison.Ordinal) == true);
        Assert.False((bool?)Parameter("useBudgetCredentialKey")?["defaultValue"]);

        var secretUri = (string?)infra.Template.ModuleTemplate("keyvault")["outputs"]?["budgetCredentialKeySecretUri"]?["value"];
        Assert.Equal(
            "[format('{0}secrets/{1}/', reference(resourceId('Microsoft.KeyVault/vaults', parameters('keyVaultName')), '2024-11-01').vaultUri, parameters('budgetCredentialKeySecretName'))]",
            secretUri);
    }

    [Fact]
    public void Budget_credential_key_parameter_is_secure_optional_and_written_to_key_vault_only_when_given()
    {
        Assert.Equal("securestring", (string?)Parameter("budgetCredentialKey")?["type"]);
        Assert.Equal("", (string?)Parameter("budgetCredentialKey")?["defaultValue"]);
        Assert.Equal("ironauth-budget-credential-key", (string?)Parameter("budgetCredentialKeySecretName")?["defaultValue"]);

        // The main template hands both to the vault module, which writes the secret only when a value is given.
        var passed = infra.Template.Module("keyvault").Properties["parameters"]!;
        Assert.Equal("[parameters('budgetCredentialKey')]", (string?)passed["budgetCredentialKey"]?["value"]);
        Assert.Equal("[parameters('budgetCredentialKeySecretName')]", (string?)passed["budgetCredentialKeySecretName"]?["value"]);
        var secret = Assert.Single(
            infra.Template.OfType("Microsoft.KeyVault/vaults/secrets"),
            s => s.Node["condition"]?.ToString().Contains("budgetCredentialKey", StringComparison.Ordinal) == true);
        Assert.Equal("[not(empty(parameters('budgetCredentialKey')))]", (string?)secret.Node["condition"]);
        Assert.Equal("[parameters('budgetCredentialKey')]", (string?)secret.Properties["value"]);
        Assert.Contains("parameters('budgetCredentialKeySecretName')", secret.Name, StringComparison.Ordinal);
    }
}
// ---- end Budgets ----
