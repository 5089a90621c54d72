// Alert rules for langsync, one action group. The log alerts read the
// structured events langsync writes (docs/observability.md#events): each is
// one JSON log line with a fixed "event" name and fixed attributes, which
// the Functions host forwards to Application Insights as a trace. The
// dead-letter alert reads the Service Bus metric.
param location string
param tags object
param suffix string
param insightsId string
param serviceBusId string
param alertEmail string
param lagThresholdHours int
param syncSilenceHours int

// Event names and attributes: docs/observability.md#events (internal/deploycheck
// checks that every event named here is defined there).
var runEnded = 'langsync.run.ended'
var syncCompleted = 'langsync.sync.completed'
var pairAlert = 'langsync.pair.alert'

// Parses the event out of a trace's message (the JSON line langsync wrote).
var parse = '| extend e = parse_json(substring(message, indexof(message, "{")))'

resource actions 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-langsync-${suffix}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'langsync'
    enabled: true
    emailReceivers: empty(alertEmail) ? [] : [
      { name: 'operator', emailAddress: alertEmail, useCommonAlertSchema: true }
    ]
  }
}

resource runFailed 'Microsoft.Insights/scheduledQueryRules@2021-08-01' = {
  name: 'langsync-run-failed-${suffix}'
  location: location
  tags: tags
  properties: {
    displayName: 'langsync: a run failed'
    description: 'A replication or restore run ended with outcome "failed" (event ${runEnded}). `langsync status` and the run document say why.'
    severity: 1
    enabled: true
    scopes: [ insightsId ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: 'traces | where message has "${runEnded}" ${parse} | where tostring(e.event) == "${runEnded}" and tostring(e.outcome) == "failed"'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    actions: { actionGroups: [ actions.id ] }
  }
}

resource replicaLag 'Microsoft.Insights/scheduledQueryRules@2021-08-01' = {
  name: 'langsync-replica-lag-${suffix}'
  location: location
  tags: tags
  properties: {
    displayName: 'langsync: replica lag over ${lagThresholdHours} h'
    description: 'A project replicated in the last 7 days has had no successful replication run (event ${runEnded}, outcome "succeeded") for over ${lagThresholdHours} hours.'
    severity: 2
    enabled: true
    scopes: [ insightsId ]
    evaluationFrequency: 'PT1H'
    windowSize: 'P2D'
    overrideQueryTimeRange: 'P7D'
    criteria: {
      allOf: [
        {
          query: 'traces | where timestamp > ago(7d) | where message has "${runEnded}" ${parse} | where tostring(e.event) == "${runEnded}" and tostring(e.kind) == "replicate" | summarize last_ok = maxif(timestamp, tostring(e.outcome) == "succeeded") by project = tostring(e.project) | where isnull(last_ok) or last_ok < ago(${lagThresholdHours}h)'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    actions: { actionGroups: [ actions.id ] }
  }
}

resource pairAlerting 'Microsoft.Insights/scheduledQueryRules@2021-08-01' = {
  name: 'langsync-pair-alert-${suffix}'
  location: location
  tags: tags
  properties: {
    displayName: 'langsync: a pair is past alerts.maxLag or has something expiring'
    description: 'langsync wrote ${pairAlert} after a sync or a scheduled run: a pair whose target has lacked the source\'s newest change for longer than alerts.maxLag (kind "lag"), or a model, deployment or training config version expiring within the expiry warning window (kind "expiry"). The detail attribute and `langsync status` say which.'
    severity: 2
    enabled: true
    scopes: [ insightsId ]
    evaluationFrequency: 'PT1H'
    windowSize: 'PT1H'
    criteria: {
      allOf: [
        {
          query: 'traces | where message has "${pairAlert}" ${parse} | where tostring(e.event) == "${pairAlert}" | summarize n = count() by kind = tostring(e.kind), project = tostring(e.project), target = tostring(e.target)'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            { name: 'kind', operator: 'Include', values: [ '*' ] }
            { name: 'project', operator: 'Include', values: [ '*' ] }
            { name: 'target', operator: 'Include', values: [ '*' ] }
          ]
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    actions: { actionGroups: [ actions.id ] }
  }
}

resource syncSilent 'Microsoft.Insights/scheduledQueryRules@2021-08-01' = {
  name: 'langsync-sync-silent-${suffix}'
  location: location
  tags: tags
  properties: {
    displayName: 'langsync: no sync completed in ${syncSilenceHours} h'
    description: 'The timer has not completed a sync (event ${syncCompleted}) in ${syncSilenceHours} hours: the app is down, its settings are broken, or the schedule stopped.'
    severity: 1
    enabled: true
    scopes: [ insightsId ]
    evaluationFrequency: 'PT1H'
    windowSize: 'P1D'
    overrideQueryTimeRange: 'P2D'
    criteria: {
      allOf: [
        {
          query: 'traces | where timestamp > ago(${syncSilenceHours}h) | where message has "${syncCompleted}" ${parse} | where tostring(e.event) == "${syncCompleted}" | summarize n = count() | where n == 0'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    actions: { actionGroups: [ actions.id ] }
  }
}

resource deadLetters 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'langsync-dead-letters-${suffix}'
  location: 'global'
  tags: tags
  properties: {
    description: 'A Service Bus message was dead-lettered (metric DeadletteredMessages > 0). The handler keeps bad inputs under failed/ itself, so a dead letter means a delivery it never answered.'
    severity: 2
    enabled: true
    scopes: [ serviceBusId ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT1H'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'deadlettered'
          metricNamespace: 'Microsoft.ServiceBus/namespaces'
          metricName: 'DeadletteredMessages'
          timeAggregation: 'Maximum'
          operator: 'GreaterThan'
          threshold: 0
        }
      ]
    }
    actions: [ { actionGroupId: actions.id } ]
  }
}
