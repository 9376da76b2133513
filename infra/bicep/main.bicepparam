// Example parameters for main.bicep. Deploy with
//   az deployment group create -g <resource-group> -f infra/bicep/main.bicep -p infra/bicep/main.bicepparam
using 'main.bicep'

param appName = 'ironauth'
param storageSku = 'Standard_LRS'
param maximumInstanceCount = 100
param instanceMemoryMB = 2048

// Empty: https://<the app's host name>/api. Set it when clients reach the app by another name (a custom domain, APIM).
param jwtIssuer = ''
param jwtAudience = 'ironauth'
param maintenanceSchedule = '0 */5 * * * *'

// Read from the environment so the key never sits in a file: export IRONAUTH_JWT_SIGNING_KEY="$(cat key.pem)"
// before deploying. Unset, the secret is left alone (set it with az keyvault secret set; docs/deploy.md).
param signingKeyPem = readEnvironmentVariable('IRONAUTH_JWT_SIGNING_KEY', '')

// Email and self-service accounts (docs/accounts.md). The SMTP password and the TOTP encryption key come from
// the environment too and go to Key Vault; the app settings only reference them.
param smtpHost = ''
param smtpUsername = ''
param emailFrom = ''
param registrationEnabled = false
param smtpPassword = readEnvironmentVariable('IRONAUTH_SMTP_PASSWORD', '')
param mfaEncryptionKey = readEnvironmentVariable('IRONAUTH_MFA_ENCRYPTION_KEY', '')
param useMfaEncryptionKey = false

// Agent budgets (docs/budgets.md): the key provider credentials are sealed under, from the environment to Key Vault
// (export IRONAUTH_BUDGET_CREDENTIAL_KEY="$(openssl rand -base64 32)" once); the app setting only references it.
param budgetCredentialKey = readEnvironmentVariable('IRONAUTH_BUDGET_CREDENTIAL_KEY', '')
param useBudgetCredentialKey = false
