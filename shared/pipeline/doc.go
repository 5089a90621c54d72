// Package pipeline runs replications: durable runs whose state lives in the
// state store (run state is the truth; queue messages are only wake-ups), the
// daily change check (Sync), status and the sweep of overdue runs.
//
// A host (CLI, Azure Functions, local, Lambda) creates runs with Start or
// Sync, then calls Advance (or Wake, for a queue message carrying a sequence
// number) and schedules the returned Next. Advance does the next action
// idempotently within a bounded poll budget and never blocks for a whole
// training job.
//
// The package owns small interfaces for what it needs (Authoring,
// StateStore, Backups, Prober, Clock, Config); shared/app adapts the real
// clients and hands over the settings it reads from the config.
//
// advance.go is the step machine (load, dispatch, save), job.go what the
// job steps share (claim, POST, poll, recovery after a crash), failure.go
// retries and failures, and step_<name>.go one step each, with the
// interface it needs of a resource; Authoring composes those.
package pipeline
