// Package deploycheck keeps the Azure deployment consistent with the code,
// without an Azure account or a Bicep compiler: its tests read
// infra/*.bicep (as text), infra/main.parameters.json, azure.yaml, host.json,
// every functions/*/function.json, the app settings the binary reads (string
// constants in its Go source) and docs/deploy.md, and fail when they
// disagree: a queue a function reads that the template does not create, an
// app setting that is neither set nor documented as optional, a role GUID
// whose name is not the one its variable claims, a blob trigger that Flex
// Consumption cannot run, a preview API version, an app package without
// host.json or an executable binary. Each check is one row of a table, and
// TestChecksSeeMismatches feeds each a mutated copy of the inputs, so a
// pass means something. It has no code of its own; nothing imports it.
package deploycheck
