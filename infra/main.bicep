// langsync on Azure: a Linux Function App running the langsync binary as a
// custom handler, its Storage account (host storage + backup and state
// containers), a Service Bus namespace with the four step queues, and one
// user-assigned identity that every connection uses (no keys in app settings
// except the Language keys, which should be Key Vault references).
//
// azd-compatible: `azd up` reads main.parameters.json (AZURE_ENV_NAME,
// AZURE_LOCATION). Deploy the code with `make app` and then
// `az functionapp deployment source config-zip --src dist/app.zip ...`.

targetScope = 'resourceGroup'

@minLength(1)
@maxLength(20)
@description('Short environment name used to derive resource names.')
param environmentName string

@description('Region of the replicator. Pick neither the primary nor the secondary Language region, so the replicator does not share fate with the region it protects.')
param location string = resourceGroup().location

@description('langsync configuration (YAML or JSON), stored in the LANGSYNC_CONFIG app setting. Use ${ENV} references and Key Vault references for keys.')
param langsyncConfig string = ''

@description('NCRONTAB schedule of the daily sync (6 fields).')
param schedule string = '0 0 2 * * *'

@description('Resource IDs of the Language resources the identity may manage (source and targets). The identity gets "Cognitive Services Language Owner" on each, for `auth: entra`.')
param languageResourceIds array = []

@description('Make the backup container write-once (immutability policy, days). 0 disables.')
param backupImmutabilityDays int = 0

var suffix = uniqueString(resourceGroup().id, environmentName)
var tags = { 'azd-env-name': environmentName, app: 'langsync' }
var queues = [ 'langsync-export', 'langsync-import', 'langsync-train', 'langsync-deploy' ]

// Built-in role definition IDs.
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  serviceBusDataOwner: '090c5cfd-751d-490a-894a-3ce6f1109419'
  languageOwner: 'f2310ca1-dc64-4889-bb49-c8e0fa3d47a8'
}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-langsync-${suffix}'
  location: location
  tags: tags
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'stlangsync${suffix}'
  location: location
  tags: tags
  sku: { name: 'Standard_ZRS' }
  kind: 'StorageV2'
  properties: {
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    supportsHttpsTrafficOnly: true
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: { enabled: true, days: 7 }
  }
}

resource backups 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: 'langsync-backups'
}

resource backupsWorm 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies@2023-05-01' = if (backupImmutabilityDays > 0) {
  parent: backups
  name: 'default'
  properties: {
    immutabilityPeriodSinceCreationInDays: backupImmutabilityDays
    allowProtectedAppendWrites: false
  }
}

resource state 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: 'langsync-state'
}

resource deployments 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: 'app-package'
}

resource servicebus 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' = {
  name: 'sb-langsync-${suffix}'
  location: location
  tags: tags
  // Standard: duplicate detection and scheduled messages are needed.
  sku: { name: 'Standard', tier: 'Standard' }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
  }
}

resource sbQueues 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' = [for q in queues: {
  parent: servicebus
  name: q
  properties: {
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'PT1H'
    maxDeliveryCount: 10
    lockDuration: 'PT5M'
    deadLetteringOnMessageExpiration: true
    defaultMessageTimeToLive: 'P14D'
  }
}]

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-langsync-${suffix}'
  location: location
  tags: tags
  properties: { sku: { name: 'PerGB2018' }, retentionInDays: 30 }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-langsync-${suffix}'
  location: location
  tags: tags
  kind: 'web'
  properties: { Application_Type: 'web', WorkspaceResourceId: logs.id }
}

// Linux Consumption runs custom handlers; every langsync invocation is
// bounded well under its 10-minute limit (long jobs continue by message).
resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: 'plan-langsync-${suffix}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { name: 'Y1', tier: 'Dynamic' }
  properties: { reserved: true }
}

resource app 'Microsoft.Web/sites@2023-12-01' = {
  name: 'func-langsync-${suffix}'
  location: location
  tags: union(tags, { 'azd-service-name': 'langsync' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identity.id}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identity.id
    siteConfig: {
      linuxFxVersion: ''
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      appSettings: [
        { name: 'FUNCTIONS_EXTENSION_VERSION', value: '~4' }
        { name: 'FUNCTIONS_WORKER_RUNTIME', value: 'custom' }
        { name: 'AzureWebJobsStorage__accountName', value: storage.name }
        { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
        { name: 'AzureWebJobsStorage__clientId', value: identity.properties.clientId }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insights.properties.ConnectionString }
        // The trigger bindings and langsync's own client read the same setting.
        { name: 'LANGSYNC_SERVICEBUS__fullyQualifiedNamespace', value: '${servicebus.name}.servicebus.windows.net' }
        { name: 'LANGSYNC_SERVICEBUS__credential', value: 'managedidentity' }
        { name: 'LANGSYNC_SERVICEBUS__clientId', value: identity.properties.clientId }
        { name: 'LANGSYNC_STORAGE__blobServiceUri', value: storage.properties.primaryEndpoints.blob }
        { name: 'LANGSYNC_STORAGE__queueServiceUri', value: storage.properties.primaryEndpoints.queue }
        { name: 'LANGSYNC_STORAGE__credential', value: 'managedidentity' }
        { name: 'LANGSYNC_STORAGE__clientId', value: identity.properties.clientId }
        { name: 'LANGSYNC_STORE', value: storage.properties.primaryEndpoints.blob }
        { name: 'LANGSYNC_SCHEDULE', value: schedule }
        { name: 'LANGSYNC_CONFIG', value: langsyncConfig }
        { name: 'AZURE_CLIENT_ID', value: identity.properties.clientId }
      ]
    }
  }
}

// Role assignments for the identity.
resource storageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for r in [ roles.storageBlobDataOwner, roles.storageQueueDataContributor, roles.storageTableDataContributor ]: {
  name: guid(storage.id, identity.id, r)
  scope: storage
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', r)
  }
}]

resource sbRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(servicebus.id, identity.id, roles.serviceBusDataOwner)
  scope: servicebus
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataOwner)
  }
}

module languageRoles 'language-role.bicep' = [for (id, i) in languageResourceIds: {
  name: 'langsync-language-role-${i}'
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
  params: {
    languageResourceName: last(split(id, '/'))
    principalId: identity.properties.principalId
    roleDefinitionId: roles.languageOwner
  }
}]

output AZURE_FUNCTION_APP_NAME string = app.name
output LANGSYNC_STORE string = storage.properties.primaryEndpoints.blob
output LANGSYNC_SERVICEBUS_NAMESPACE string = '${servicebus.name}.servicebus.windows.net'
output AZURE_CLIENT_ID string = identity.properties.clientId
