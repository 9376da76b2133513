// What the app's managed identity may do, and nothing more:
// - Storage Blob Data Owner: Functions host storage (coordination, keys, timer locks) and the deployment
//   package container. The docs list it as the host-only minimum.
// - Storage Table Data Contributor: IronAuth's tables, and the host's diagnostic events.
// - Key Vault Secrets User: read the JWT signing key (and the SMTP password, TOTP key and budget credential key
//   when used) through the Key Vault references.
// Not granted: Storage Queue Data Contributor and Storage Account Contributor, which the host needs only
// for blob triggers, queue triggers or Durable Functions; IronAuth has HTTP and timer triggers only.
// Assignment names are guid(scope, principal, role), so a recreated app (new principal) gets new
// assignments instead of colliding with the old ones.

@description('Object id of the Function App\'s system-assigned identity.')
param principalId string

@description('Name of the storage account the app uses for host storage and tables.')
param storageAccountName string

@description('Name of the Key Vault holding the signing key.')
param keyVaultName string

resource storageAccount 'Microsoft.Storage/storageAccounts@2025-01-01' existing = {
  name: storageAccountName
}

resource vault 'Microsoft.KeyVault/vaults@2024-11-01' existing = {
  name: keyVaultName
}

resource blobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storageAccount.id, principalId, 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b')
  scope: storageAccount
  properties: {
    description: 'Functions host storage and deployment package (Storage Blob Data Owner)'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b')
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource tableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storageAccount.id, principalId, '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3')
  scope: storageAccount
  properties: {
    description: 'IronAuth tables and host diagnostic events (Storage Table Data Contributor)'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3')
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, '4633458b-17de-408a-b874-0445c86b69e6')
  scope: vault
  properties: {
    description: 'JWT signing key through a Key Vault reference (Key Vault Secrets User)'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4633458b-17de-408a-b874-0445c86b69e6')
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
