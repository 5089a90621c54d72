package customhandler

import "github.com/langsync/langsync/shared/langsync"

// Trigger types as spelled in function.json.
const (
	TimerTrigger      = "timerTrigger"
	ServiceBusTrigger = "serviceBusTrigger"
	BlobTrigger       = "blobTrigger"
	HTTPTrigger       = "httpTrigger"
)

// Route is one function the handler serves: the folder name under
// functions/ (= the function name = the path the host POSTs to) and the
// binding names and data type the handler reads. The route-table test checks
// it against functions/*/function.json.
type Route struct {
	Function string
	Trigger  string
	// Binding is the trigger binding's name: the key of Data to read.
	Binding string
	// Binary is true when the trigger declares dataType binary (base64).
	Binary bool
	// Queue is the Service Bus queue of a serviceBusTrigger.
	Queue string
	// Output is the http output binding's name (httpTrigger only).
	Output string
}

// routes is the route table, one entry per functions/<name> folder.
var routes = []Route{
	{Function: "sync", Trigger: TimerTrigger, Binding: "timer"},
	{Function: "export", Trigger: ServiceBusTrigger, Binding: "msg", Binary: true, Queue: langsync.QueueExport},
	{Function: "import", Trigger: ServiceBusTrigger, Binding: "msg", Binary: true, Queue: langsync.QueueImport},
	{Function: "train", Trigger: ServiceBusTrigger, Binding: "msg", Binary: true, Queue: langsync.QueueTrain},
	{Function: "deploy", Trigger: ServiceBusTrigger, Binding: "msg", Binary: true, Queue: langsync.QueueDeploy},
	{Function: "restore", Trigger: BlobTrigger, Binding: "backup", Binary: true},
	{Function: "status", Trigger: HTTPTrigger, Binding: "req", Output: "res"},
}

// Routes returns a copy of the route table.
func Routes() []Route { return append([]Route(nil), routes...) }
