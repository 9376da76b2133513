// Key Vault holding the JWT signing key, and the SMTP password, TOTP encryption key and budget credential key when used. RBAC decides who may read it (no access policies), and soft
// delete with purge protection means a deleted key can be recovered and cannot be destroyed early.

@description('Azure region for the vault.')
param location string

@description('Globally unique vault name: 3-24 letters, digits and hyphens, starting with a letter.')
@minLength(3)
@maxLength(24)
param keyVaultName string

@description('Name of the secret that holds the JWT signing key (PEM).')
param signingKeySecretName string

@description('PEM private key to store as the signing key secret. Empty: the secret is not written here; set it afterwards with `az keyvault secret set` (see docs/deploy.md).')
@secure()
param signingKeyPem string

@description('Name of the secret that holds the SMTP password (IronAuth:Email:Smtp:Password).')
param smtpPasswordSecretName string

@description('SMTP password to store. Empty: the secret is not written here; set it afterwards with `az keyvault secret set` (docs/deploy.md).')
@secure()
param smtpPassword string

@description('Name of the secret that holds the key TOTP secrets are encrypted under (IronAuth:Mfa:EncryptionKey).')
param mfaEncryptionKeySecretName string

@description('Base64 of 32 random bytes to store as the TOTP encryption key. Empty: the secret is not written here.')
@secure()
param mfaEncryptionKey string

@description('Name of the secret that holds the key budget provider credentials are sealed under (IronAuth:Budgets:CredentialKey).')
param budgetCredentialKeySecretName string

@description('Base64 of 32 random bytes to store as the budget credential key. Empty: the secret is not written here.')
@secure()
param budgetCredentialKey string

@description('Days a deleted vault or secret stays recoverable.')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int

@description('Tags applied to every resource in this module.')
param tags object

resource vault 'Microsoft.KeyVault/vaults@2024-11-01' = {
  name: keyVaultName
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

// Written only when a value is supplied: an empty PUT would replace a key set out of band with nothing.
resource signingKeySecret 'Microsoft.KeyVault/vaults/secrets@2024-11-01' = if (!empty(signingKeyPem)) {
  parent: vault
  name: signingKeySecretName
  properties: {
    value: signingKeyPem
    contentType: 'application/x-pem-file'
  }
}

// Like the signing key: written only when a value is supplied.
resource smtpPasswordSecret 'Microsoft.KeyVault/vaults/secrets@2024-11-01' = if (!empty(smtpPassword)) {
  parent: vault
  name: smtpPasswordSecretName
  properties: {
    value: smtpPassword
    contentType: 'text/plain'
  }
}

resource mfaEncryptionKeySecret 'Microsoft.KeyVault/vaults/secrets@2024-11-01' = if (!empty(mfaEncryptionKey)) {
  parent: vault
  name: mfaEncryptionKeySecretName
  properties: {
    value: mfaEncryptionKey
    contentType: 'application/octet-stream;base64'
  }
}

// Written only when supplied: a new value would leave every credential sealed under the old one unopenable.
resource budgetCredentialKeySecret 'Microsoft.KeyVault/vaults/secrets@2024-11-01' = if (!empty(budgetCredentialKey)) {
  parent: vault
  name: budgetCredentialKeySecretName
  properties: {
    value: budgetCredentialKey
    contentType: 'application/octet-stream;base64'
  }
}

output keyVaultName string = vault.name
// Versionless, so the app picks up a rotated key (App Service re-reads references within 24 hours or on restart).
output signingKeySecretUri string = '${vault.properties.vaultUri}secrets/${signingKeySecretName}/'
output smtpSecretUri string = '${vault.properties.vaultUri}secrets/${smtpPasswordSecretName}/'
output mfaEncryptionKeySecretUri string = '${vault.properties.vaultUri}secrets/${mfaEncryptionKeySecretName}/'
output budgetCredentialKeySecretUri string = '${vault.properties.vaultUri}secrets/${budgetCredentialKeySecretName}/'
