// Grants the langsync identity a role on one existing storage account (a
// Language resource's linked storage), which may live in another resource
// group or subscription (main.bicep scopes each deployment of this module to
// the account's group). Reader on a source's account, Contributor on a
// target's: the documents copy reads from one and writes to the other.
param storageAccountName string
param principalId string
param roleDefinitionId string

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource role 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, principalId, roleDefinitionId)
  scope: account
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionId)
  }
}
