// Package customhandler serves langsync as an Azure Functions custom
// handler: the host POSTs every invocation to /<function> with a JSON
// envelope (InvokeRequest) and reads an InvokeResponse back
// (the protocol as the host sends it: docs/functions.md).
//
// The route table (Routes) mirrors functions/*/function.json: the sync
// timer, the export, import, train and deploy Service Bus triggers, the
// restore blob trigger and the status HTTP trigger. Each invocation calls
// one pipeline entry point through small interfaces declared here (Runner,
// Starter, Reporter; shared/entry implements them) over shared/langsync's
// message shapes (ParseMessage, Wake, Tick, ...), and sends the wake-ups the
// pipeline asks for through a Sender (shared/queue). Settlement is the HTTP status: 2xx completes the
// message, anything else makes the host abandon it for a redelivery, so a
// non-2xx is answered only where a retry can help. An input that can never
// be processed marks its run failed, is kept under failed/ in the state
// container (Keeper) and is answered 2xx.
//
// Package customhandlertest is a host simulator that drives a Handler (or a
// running `langsync serve`) exactly as the Functions host does.
package customhandler
