// Package queue carries langsync's wake-up messages between the Azure
// Functions that run a replication: it is the only importer of azservicebus.
//
// A Sender sends a message now (Send) or at a time (Schedule, for the
// continuation of a long training job), always with a MessageId so that the
// queue's duplicate detection drops a second copy. ServiceBus talks to a real
// namespace, Microsoft's emulator or langsync's own stand-in
// (shared/sbemulator); Memory is the in-process implementation for the local
// host. Both pass the same contract suite (queuetest.Run).
package queue
