// Grants the langsync identity a role on one existing Language resource,
// which may live in another resource group or subscription (main.bicep
// scopes each deployment of this module to the resource's group).
param languageResourceName string
param principalId string
param roleDefinitionId string

resource language 'Microsoft.CognitiveServices/accounts@2023-05-01' existing = {
  name: languageResourceName
}

resource role 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(language.id, principalId, roleDefinitionId)
  scope: language
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionId)
  }
}
