// Log Analytics workspace and the workspace-based Application Insights component the app reports to.

@description('Azure region for the workspace and the Application Insights component.')
param location string

@description('Name of the Log Analytics workspace.')
param logAnalyticsName string

@description('Name of the Application Insights component.')
param applicationInsightsName string

@description('Days the workspace keeps logs.')
@minValue(30)
@maxValue(730)
param retentionInDays int

@description('Tags applied to every resource in this module.')
param tags object

resource workspace 'Microsoft.OperationalInsights/workspaces@2025-02-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    IngestionMode: 'LogAnalytics'
  }
}


// The operations workbook (issue 19): sign-ins by outcome, verifications by verdict, 429s, latency percentiles,
// password hashing and store round trips, over the metrics and requests the Functions app sends to this component.
resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, applicationInsightsName, 'ironauth-operations')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'IronAuth operations'
    category: 'workbook'
    sourceId: applicationInsights.id
    serializedData: loadTextContent('workbook.json')
    version: '1.0'
  }
}
