// Package customhandlertest is a simulator of the Azure Functions host for
// langsync's custom handler, driven by the repository's
// functions/*/function.json (docs/reference/functions-protocol.md#invocation-protocol). It fires
// timers, receives from Service Bus queues with the real azservicebus client
// in peek-lock mode (from the Service Bus stand-in's connection string),
// invokes the handler over HTTP with the host's exact payloads (double
// encoded scalars, offset-less dates, base64 for dataType binary, body
// properties leaking into Metadata), completes messages on 2xx and abandons
// them otherwise, serves HTTP triggers at /api/<route> with function keys,
// and delivers blob-trigger invocations for blobs under a trigger's path.
//
// It also holds a recording stand-in for the wake-up sender (Sender) for
// handler tests; the stand-ins for the pipeline entry points and the
// failed-input keeper are shared/entry/entrytest's.
package customhandlertest
