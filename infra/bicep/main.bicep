// IronAuth on Azure: a Flex Consumption Function App (.NET 10 isolated worker) over Table Storage, with its
// JWT signing key in Key Vault and telemetry in Application Insights. Everything connects by managed
// identity; no storage key or connection string with a secret exists. Deploy with
//   az deployment group create -g <resource-group> -f infra/bicep/main.bicep -p infra/bicep/main.bicepparam
// See docs/deploy.md.

@description('Azure region for every resource. Must offer Flex Consumption (az functionapp list-flexconsumption-locations).')
param location string = resourceGroup().location

@description('Short prefix for resource names: 3-9 lowercase letters and digits. A token unique to the resource group is appended.')
@minLength(3)
@maxLength(9)
param appName string = 'ironauth'

@description('Tags applied to every resource.')
param tags object = {}

@description('Redundancy of the storage account that holds host storage and IronAuth\'s tables.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param storageSku string = 'Standard_LRS'

@description('Most instances the Function App may scale out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Memory of each Function App instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Days the Log Analytics workspace keeps logs.')
@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

@description('Days a deleted Key Vault or secret stays recoverable (purge protection stops earlier deletion).')
@minValue(7)
@maxValue(90)
param keyVaultSoftDeleteRetentionInDays int = 90

@description('Name of the Key Vault secret holding the JWT signing key.')
param signingKeySecretName string = 'ironauth-jwt-signing-key'

@description('JWT signing key: a PEM private key (RSA 2048+ for RS256). Optional: when empty the secret is not written, the app setting still references it, and the app refuses to start until it is set (docs/deploy.md).')
@secure()
param signingKeyPem string = ''

@description('JWT issuer (iss) of access tokens and of the discovery document (IronAuth:Jwt:Issuer): an https URL ending in /api, as clients reach the app. Empty: https://<the app\'s default host name>/api.')
param jwtIssuer string = ''

@description('JWT audience (aud) of access tokens: IronAuth:Jwt:Audience.')
param jwtAudience string = 'ironauth'

@description('NCRONTAB schedule of the maintenance job (six fields, seconds first): IronAuth:Maintenance:Schedule.')
param maintenanceSchedule string = '0 */5 * * * *'

// ---- Accounts (issue 16): email, self-service registration, TOTP encryption key ----
@description('SMTP server IronAuth sends mail through (IronAuth:Email:Smtp:Host). Empty: no email, and registration must stay off.')
param smtpHost string = ''

@description('SMTP port (IronAuth:Email:Smtp:Port).')
@minValue(1)
@maxValue(65535)
param smtpPort int = 587

@description('How the SMTP connection is secured (IronAuth:Email:Smtp:Security).')
@allowed([
  'Auto'
  'StartTls'
  'SslOnConnect'
  'None'
])
param smtpSecurity string = 'Auto'

@description('SMTP user name (IronAuth:Email:Smtp:Username). Empty: no authentication, and no password setting.')
param smtpUsername string = ''

@description('Name of the Key Vault secret holding the SMTP password.')
param smtpPasswordSecretName string = 'ironauth-smtp-password'

@description('SMTP password, stored in Key Vault and referenced from the app setting (never an app setting value itself). Empty: the secret is left alone (set it with az keyvault secret set).')
@secure()
param smtpPassword string = ''

@description('From address of the mail IronAuth sends (IronAuth:Email:From), e.g. Acme <no-reply@acme.example>.')
param emailFrom string = ''

@description('Self-service sign-up, email verification and reset by email (IronAuth:Registration:Enabled). Needs smtpHost and emailFrom.')
param registrationEnabled bool = false

@description('Name of the Key Vault secret holding the key TOTP secrets are encrypted under.')
param mfaEncryptionKeySecretName string = 'ironauth-mfa-encryption-key'

@description('Base64 of 32 random bytes (openssl rand -base64 32) that TOTP secrets are encrypted under, stored in Key Vault. Empty: the secret is left alone; the app setting references it only when useMfaEncryptionKey is true.')
@secure()
param mfaEncryptionKey string = ''

@description('Reference the TOTP encryption key secret from IronAuth:Mfa:EncryptionKey (set it in Key Vault first). Recommended wherever signing keys rotate (docs/accounts.md).')
param useMfaEncryptionKey bool = false
// ---- end Accounts ----

// ---- Budgets (issue 18) ----
@description('Name of the Key Vault secret holding the key provider credentials of agent budgets are sealed under (IronAuth:Budgets:CredentialKey).')
param budgetCredentialKeySecretName string = 'ironauth-budget-credential-key'

@description('Base64 of 32 random bytes (openssl rand -base64 32) that budget provider credentials are sealed under (AES-256-GCM), stored in Key Vault. Empty: the secret is left alone; the app setting references it only when useBudgetCredentialKey is true.')
@secure()
param budgetCredentialKey string = ''

@description('Reference the budget credential key secret from IronAuth:Budgets:CredentialKey (set it in Key Vault first, or pass budgetCredentialKey). Needed to attach provider credentials to budgets (docs/budgets.md).')
param useBudgetCredentialKey bool = false
// ---- end Budgets ----

var token = uniqueString(resourceGroup().id)
var functionAppName = 'func-${appName}-${token}'
var deploymentContainerName = 'app-package'
var applicationInsightsName = 'appi-${appName}-${token}'
var storageAccountName = 'st${appName}${token}'
var keyVaultName = 'kv${appName}${token}'

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    logAnalyticsName: 'log-${appName}-${token}'
    applicationInsightsName: applicationInsightsName
    retentionInDays: logRetentionInDays
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    storageAccountName: storageAccountName
    skuName: storageSku
    deploymentContainerName: deploymentContainerName
    tags: tags
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    location: location
    keyVaultName: keyVaultName
    signingKeySecretName: signingKeySecretName
    signingKeyPem: signingKeyPem
    smtpPasswordSecretName: smtpPasswordSecretName
    smtpPassword: smtpPassword
    mfaEncryptionKeySecretName: mfaEncryptionKeySecretName
    mfaEncryptionKey: mfaEncryptionKey
    budgetCredentialKeySecretName: budgetCredentialKeySecretName
    budgetCredentialKey: budgetCredentialKey
    softDeleteRetentionInDays: keyVaultSoftDeleteRetentionInDays
    tags: tags
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    location: location
    planName: 'plan-${appName}-${token}'
    functionAppName: functionAppName
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    tags: tags
  }
}

module access 'modules/access.bicep' = {
  name: 'access'
  params: {
    principalId: functionApp.outputs.principalId
    storageAccountName: storageAccountName
    keyVaultName: keyVaultName
  }
  // Names are passed as known values rather than module outputs, so what-if can predict the scopes; the
  // vault must exist first (the storage account already does, since the app depends on it).
  dependsOn: [
    keyVault
  ]
}

resource site 'Microsoft.Web/sites@2024-11-01' existing = {
  name: functionAppName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// The issuer is where clients find the discovery document: {issuer}/.well-known/openid-configuration.
var issuer = empty(jwtIssuer) ? 'https://${functionApp.outputs.defaultHostName}/api' : jwtIssuer

// Applied after the role assignments, so the host's first start finds its storage and Key Vault
// permissions in place (a Key Vault reference that fails is otherwise retried only on restart or after
// 24 hours). Flex Consumption takes the runtime from functionAppConfig: FUNCTIONS_WORKER_RUNTIME and
// FUNCTIONS_EXTENSION_VERSION must not be set.
resource appSettings 'Microsoft.Web/sites/config@2024-11-01' = {
  parent: site
  name: 'appsettings'
  properties: {
    AzureWebJobsStorage__accountName: storageAccountName
    APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
    // Functions has no durable local disk and runs many instances: Table Storage is the only store here.
    IronAuth__Store: 'tables'
    IronAuth__Tables__ServiceUri: storage.outputs.tableEndpoint
    IronAuth__Jwt__SigningKey: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.signingKeySecretUri})'
    IronAuth__Jwt__Issuer: issuer
    IronAuth__Jwt__Audience: jwtAudience
    IronAuth__Maintenance__Schedule: maintenanceSchedule
    // ---- Accounts (issue 16) ----
    IronAuth__Email__Smtp__Host: smtpHost
    IronAuth__Email__Smtp__Port: string(smtpPort)
    IronAuth__Email__Smtp__Security: smtpSecurity
    IronAuth__Email__Smtp__Username: smtpUsername
    // A Key Vault reference, never the password itself; none without a user name (IronAuth wants both or neither).
    IronAuth__Email__Smtp__Password: empty(smtpUsername) ? '' : '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.smtpSecretUri})'
    IronAuth__Email__From: emailFrom
    IronAuth__Registration__Enabled: registrationEnabled ? 'true' : 'false'
    IronAuth__Mfa__EncryptionKey: useMfaEncryptionKey ? '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.mfaEncryptionKeySecretUri})' : ''
    // ---- end Accounts ----
    // A Key Vault reference, never the key itself; empty unless used, since an unresolved reference would fail the start.
    IronAuth__Budgets__CredentialKey: useBudgetCredentialKey ? '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.budgetCredentialKeySecretUri})' : ''
  }
  // (functionApp is a dependency already: the issuer reads its host name.)
  dependsOn: [
    access
    monitoring
  ]
}

@description('Name of the Function App (for func azure functionapp publish).')
output functionAppName string = functionApp.outputs.functionAppName

@description('Base URL of the app.')
output appUrl string = 'https://${functionApp.outputs.defaultHostName}'

@description('Issuer of access tokens: JwtBearer Authority, APIM validate-jwt openid-config is this + /.well-known/openid-configuration.')
output issuer string = issuer

@description('Public signing keys (JWKS) for services that verify IronAuth access tokens.')
output jwksUrl string = 'https://${functionApp.outputs.defaultHostName}/api/auth/jwks.json'

@description('Storage account holding host storage and IronAuth\'s tables.')
output storageAccountName string = storage.outputs.storageAccountName

@description('Table endpoint IronAuth uses (IronAuth:Tables:ServiceUri).')
output tableServiceUri string = storage.outputs.tableEndpoint

@description('Key Vault holding the signing key.')
output keyVaultName string = keyVault.outputs.keyVaultName

@description('Name of the signing key secret in the vault.')
output signingKeySecretName string = signingKeySecretName
