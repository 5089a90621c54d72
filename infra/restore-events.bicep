// The Event Grid subscription that delivers restore drops (BlobCreated under
// <state container>/restore/) to the restore function's blob trigger, whose
// function.json declares "source": "EventGrid". The webhook carries the
// host's blobs_extension system key, which exists only once the code with a
// blob trigger has been deployed and the host has started: deploy this after
// the code (azure.yaml's postdeploy hook does, docs/deploy.md says how by
// hand). Event Grid validates the endpoint when the subscription is created.
param functionAppName string
param systemTopicName string
param stateContainer string = 'langsync-state'
@description('Name of the function with the Event Grid-source blob trigger (the functions/ folder).')
param functionName string = 'restore'

resource app 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' existing = {
  name: systemTopicName
}

var blobsKey = listKeys('${app.id}/host/default', '2024-04-01').systemKeys.blobs_extension

resource subscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: topic
  name: 'langsync-restore-drops'
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: 'https://${app.properties.defaultHostName}/runtime/webhooks/blobs?functionName=Host.Functions.${functionName}&code=${blobsKey}'
      }
    }
    filter: {
      includedEventTypes: [ 'Microsoft.Storage.BlobCreated' ]
      subjectBeginsWith: '/blobServices/default/containers/${stateContainer}/blobs/restore/'
    }
    eventDeliverySchema: 'EventGridSchema'
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
  }
}
