// Package entry is the adapter every host runs on: it turns a host's
// inputs (a wake-up, a timer tick, a replicate or restore request, a
// status call, all shaped by shared/langsync) into shared/pipeline and
// shared/app calls, and the pipeline's answers back into the wake-ups the
// host must send or perform.
//
// Points implements the Runner, Starter and Reporter interfaces that both
// the Azure Functions custom handler (shared/customhandler) and the AWS
// Lambda handler (shared/lambdahandler) declare; StateKeeper implements
// their Keeper, keeping failed inputs write-once in the state container;
// IsPermanent tells the errors that no retry can cure.
//
// It exists so that the two hosts share one adapter without depending on
// each other or on the composition root: the hosts see only
// shared/langsync's shapes and their own interfaces, and cmd/langsync
// wires config, app and entry into whichever host the process runs as.
package entry
