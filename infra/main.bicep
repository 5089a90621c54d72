// langsync on Azure: a Flex Consumption (FC1) Function App running the
// langsync binary as a custom handler, its Storage account (host storage,
// the app-package container Flex deploys from, the backup and state
// containers), a Service Bus namespace with the four step queues, a Key
// Vault (RBAC mode) for the Language keys, Event Grid delivering restore
// drops, alert rules, and one user-assigned identity that every connection
// uses. No storage or Service Bus key exists anywhere: shared-key and SAS
// access are disabled.
//
// `azd up` provisions this template (main.parameters.json maps the azd
// environment) and deploys dist/app.zip (azure.yaml runs `make app`); its
// postdeploy hook then deploys restore-events.bicep, the restore event
// subscription, which needs the deployed code's blobs_extension key. docs/deploy.md walks through it, and the same with the az CLI.
// internal/deploycheck keeps this file, azure.yaml, host.json and
// functions/*/function.json consistent.

targetScope = 'resourceGroup'

@minLength(1)
@maxLength(20)
@description('Short environment name used to derive resource names.')
param environmentName string

@description('Region of the replicator. Pick neither the primary nor the secondary Language region, so the replicator does not share fate with the region it protects. It must offer Flex Consumption.')
param location string = resourceGroup().location

@secure()
@description('langsync configuration (YAML or JSON), stored in the LANGSYNC_CONFIG app setting. Reference keys as ${LANGSYNC_PRIMARY_KEY} / ${LANGSYNC_SECONDARY_KEY} (Key Vault references set below) or use `auth: entra`. Empty: the one-pair LANGSYNC_* settings are used.')
param langsyncConfig string = ''

@secure()
@description('Key of the primary (source) Language resource. Stored in Key Vault; the app reads it through a Key Vault reference in LANGSYNC_PRIMARY_KEY. Leave empty with `auth: entra` (recommended).')
param primaryKey string = ''

@secure()
@description('Key of the secondary (target) Language resource; see primaryKey.')
param secondaryKey string = ''

@description('NCRONTAB schedule of the daily sync (6 fields, UTC).')
param schedule string = '0 0 2 * * *'

@description('Resource IDs of the Language resources the identity manages (source and targets; any resource group or subscription). The identity gets Cognitive Services Language Owner on each, for `auth: entra`.')
param languageResourceIds array = []

@description('Resource IDs of the storage accounts linked to the SOURCE Language resources (custom text projects keep their documents there). The identity gets Storage Blob Data Reader on each.')
param sourceStorageAccountIds array = []

@description('Resource IDs of the storage accounts linked to the TARGET Language resources. The identity gets Storage Blob Data Contributor on each (the documents copy writes there).')
param targetStorageAccountIds array = []

@description('Make the backup container write-once (immutability policy, days). 0 disables.')
param backupImmutabilityDays int = 0

@description('E-mail address the alert action group notifies. Empty: the alerts fire without a receiver (add one to the action group later).')
param alertEmail string = ''

@description('Replica lag alert: fire when a replicated pair has had no successful run for this many hours.')
param lagThresholdHours int = 26

@description('Sync silence alert: fire when the timer has not completed a sync for this many hours.')
param syncSilenceHours int = 26

@description('Flex Consumption: most instances the app scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Flex Consumption: memory per instance (MB).')
@allowed([ 512, 2048, 4096 ])
param instanceMemoryMB int = 2048

var suffix = uniqueString(resourceGroup().id, environmentName)
var tags = { 'azd-env-name': environmentName, app: 'langsync' }
// The Service Bus queues, one per function with a serviceBusTrigger.
var queues = [ 'langsync-export', 'langsync-import', 'langsync-train', 'langsync-deploy' ]
var stateContainer = 'langsync-state'
var backupContainer = 'langsync-backups'
var packageContainer = 'app-package'

// Built-in role definition IDs (names checked by internal/deploycheck).
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  languageOwner: 'f07febfe-79bc-46b1-8b37-790e26e6e498'
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
  name: backupContainer
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
  name: stateContainer
}

// Flex Consumption deploys from this container (functionAppConfig below).
resource appPackage 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: packageContainer
}

resource servicebus 'Microsoft.ServiceBus/namespaces@2021-11-01' = {
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

resource sbQueues 'Microsoft.ServiceBus/namespaces/queues@2021-11-01' = [for q in queues: {
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

// Key Vault in RBAC mode: the Language keys, when keys are used at all.
resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: 'kv-langsync-${suffix}'
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
  }
}

resource primaryKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(primaryKey)) {
  parent: vault
  name: 'langsync-primary-key'
  properties: { value: primaryKey }
}

resource secondaryKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(secondaryKey)) {
  parent: vault
  name: 'langsync-secondary-key'
  properties: { value: secondaryKey }
}

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

// Flex Consumption runs custom handlers (runtime 'custom'). Linux
// Consumption (Y1) retires on 30 September 2028. Every langsync invocation
// is bounded well under the host's functionTimeout (long jobs continue by
// message), so nothing depends on Flex's longer limits.
resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-langsync-${suffix}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { name: 'FC1', tier: 'FlexConsumption' }
  properties: { reserved: true }
}

var baseSettings = [
  // Host storage, by identity (Storage Blob Data Owner + Queue Data
  // Contributor below). No FUNCTIONS_WORKER_RUNTIME or
  // FUNCTIONS_EXTENSION_VERSION: Flex takes them from functionAppConfig.
  { name: 'AzureWebJobsStorage__accountName', value: storage.name }
  { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
  { name: 'AzureWebJobsStorage__clientId', value: identity.properties.clientId }
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insights.properties.ConnectionString }
  { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identity.properties.clientId};Authorization=AAD' }
  // The trigger bindings and langsync's own client read the same setting.
  { name: 'LANGSYNC_SERVICEBUS__fullyQualifiedNamespace', value: '${servicebus.name}.servicebus.windows.net' }
  { name: 'LANGSYNC_SERVICEBUS__credential', value: 'managedidentity' }
  { name: 'LANGSYNC_SERVICEBUS__clientId', value: identity.properties.clientId }
  // The restore function's blob trigger (Event Grid source) connection.
  { name: 'LANGSYNC_STORAGE__blobServiceUri', value: storage.properties.primaryEndpoints.blob }
  { name: 'LANGSYNC_STORAGE__queueServiceUri', value: storage.properties.primaryEndpoints.queue }
  { name: 'LANGSYNC_STORAGE__credential', value: 'managedidentity' }
  { name: 'LANGSYNC_STORAGE__clientId', value: identity.properties.clientId }
  { name: 'LANGSYNC_STORE', value: storage.properties.primaryEndpoints.blob }
  { name: 'LANGSYNC_SCHEDULE', value: schedule }
  { name: 'LANGSYNC_CONFIG', value: langsyncConfig }
  { name: 'AZURE_CLIENT_ID', value: identity.properties.clientId }
]

// Key Vault references: the app resolves them with keyVaultReferenceIdentity.
var keySettings = concat(
  empty(primaryKey) ? [] : [ { name: 'LANGSYNC_PRIMARY_KEY', value: '@Microsoft.KeyVault(SecretUri=${primaryKeySecret!.properties.secretUri})' } ],
  empty(secondaryKey) ? [] : [ { name: 'LANGSYNC_SECONDARY_KEY', value: '@Microsoft.KeyVault(SecretUri=${secondaryKeySecret!.properties.secretUri})' } ]
)

resource app 'Microsoft.Web/sites@2024-04-01' = {
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
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${packageContainer}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      runtime: { name: 'custom', version: '1.0' }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      appSettings: concat(baseSettings, keySettings)
    }
  }
  dependsOn: [ storageRoles, vaultRole ]
}

// Role assignments for the identity, least privilege:
// - the app's own account: Blob Data Owner (the host's leases and the
//   timer's singleton lock need it for identity-based AzureWebJobsStorage;
//   langsync's state and backups live there too) and Queue Data Contributor
//   (the blob trigger's poison queue);
// - Service Bus: Sender + Receiver, not Data Owner;
// - Key Vault: Secrets User (read the key references);
// - Application Insights: Monitoring Metrics Publisher (Entra-authenticated
//   telemetry).
resource storageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for r in [ roles.storageBlobDataOwner, roles.storageQueueDataContributor ]: {
  name: guid(storage.id, identity.id, r)
  scope: storage
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', r)
  }
}]

resource sbRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for r in [ roles.serviceBusDataSender, roles.serviceBusDataReceiver ]: {
  name: guid(servicebus.id, identity.id, r)
  scope: servicebus
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', r)
  }
}]

resource vaultRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identity.id, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
  }
}

resource insightsRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(insights.id, identity.id, roles.monitoringMetricsPublisher)
  scope: insights
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
  }
}

// Language resources and their linked storage may live in other resource
// groups or subscriptions: one module deployment scoped to each.
module languageRoles 'language-role.bicep' = [for (id, i) in languageResourceIds: {
  name: 'langsync-language-role-${i}'
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
  params: {
    languageResourceName: last(split(id, '/'))
    principalId: identity.properties.principalId
    roleDefinitionId: roles.languageOwner
  }
}]

module sourceStorageRoles 'storage-role.bicep' = [for (id, i) in sourceStorageAccountIds: {
  name: 'langsync-source-storage-role-${i}'
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
  params: {
    storageAccountName: last(split(id, '/'))
    principalId: identity.properties.principalId
    roleDefinitionId: roles.storageBlobDataReader
  }
}]

module targetStorageRoles 'storage-role.bicep' = [for (id, i) in targetStorageAccountIds: {
  name: 'langsync-target-storage-role-${i}'
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
  params: {
    storageAccountName: last(split(id, '/'))
    principalId: identity.properties.principalId
    roleDefinitionId: roles.storageBlobDataContributor
  }
}]

// Restore drops: Flex runs only the Event Grid-source blob trigger
// (functions/restore/function.json "source": "EventGrid"). The system
// topic is created here; the subscription, which needs the deployed
// function's blobs_extension key, by restore-events.bicep, deployed after
// the code (azure.yaml's postdeploy hook; docs/deploy.md). Provisioning is
// incremental, so a later `azd provision` leaves the subscription alone.
resource storageEvents 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: 'evgt-langsync-${suffix}'
  location: location
  tags: tags
  properties: {
    source: storage.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

module alerts 'alerts.bicep' = {
  name: 'langsync-alerts'
  params: {
    location: location
    tags: tags
    suffix: suffix
    insightsId: insights.id
    serviceBusId: servicebus.id
    alertEmail: alertEmail
    lagThresholdHours: lagThresholdHours
    syncSilenceHours: syncSilenceHours
  }
}

output AZURE_FUNCTION_APP_NAME string = app.name
output AZURE_RESOURCE_GROUP string = resourceGroup().name
output LANGSYNC_STORE string = storage.properties.primaryEndpoints.blob
output LANGSYNC_STORAGE_ACCOUNT string = storage.name
output LANGSYNC_SERVICEBUS_NAMESPACE string = '${servicebus.name}.servicebus.windows.net'
output LANGSYNC_EVENTGRID_TOPIC string = storageEvents.name
output LANGSYNC_KEY_VAULT string = vault.name
output AZURE_CLIENT_ID string = identity.properties.clientId
