// Key Vault holding the JWT signing key. RBAC decides who may read it (no access policies), and soft
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

output keyVaultName string = vault.name
// Versionless, so the app picks up a rotated key (App Service re-reads references within 24 hours or on restart).
output signingKeySecretUri string = '${vault.properties.vaultUri}secrets/${signingKeySecretName}/'
