// Package sbemulator is a wire-level Azure Service Bus stand-in: an AMQP 1.0
// peer, with its own small codec, that follows enough Service Bus
// conventions ($cbs put-token, the <entity>/$management operations, lock
// tokens and x-opt-* annotations) for the unmodified azservicebus client to
// send, schedule, receive, settle, peek and defer messages against it. On
// the same listener it serves the queue part of the ATOM management API, so
// azservicebus's admin.Client can create, read, update and delete queues
// (management.go).
//
// It exists because neither the Azure Functions host's Service Bus nor
// Microsoft's emulator (Docker) can run where langsync is tested; the facts
// it follows are in docs/servicebus.md. Queues only: no
// topics, sessions or transactions. Time comes from a Clock so tests can
// expire locks and deliver scheduled messages without sleeping, and Faults
// let tests fail operations on purpose.
package sbemulator
