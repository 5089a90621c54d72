// Package entrytest holds recording stand-ins for what every host runs on:
// the pipeline entry points (Pipeline, in place of entry.Points) and the
// failed-input keeper (Keeper, in place of entry.StateKeeper). Both the
// Functions custom handler's and the Lambda handler's tests use them, so
// neither host's tests lean on the other's package.
package entrytest
