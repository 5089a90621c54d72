// Package app is the composition root: it builds the authoring clients,
// the stores, the backup adapter and the pipeline from a config.Config, so
// that every host (the CLI, the Azure Functions handler, the local host and
// AWS Lambda) wires langsync the same way. It also holds the small
// adapters that fit those packages to the interfaces the pipeline owns.
package app
