// Package lambdahandler runs langsync as an AWS Lambda function (the only
// importer of aws-lambda-go), so that the replicator need not share fate
// with the Azure region it protects. Handler implements lambda.Handler over
// the same pipeline entry points as the Azure Functions custom handler
// (shared/entry's Points), through the Runner, Starter and Reporter
// interfaces declared here over shared/langsync's message shapes; it does
// not depend on the Functions host. An EventBridge scheduled rule event
// runs the sync, a Function URL request serves status, replicate, restore
// and sync by path, and a direct invoke takes langsync's queue message
// shapes ({"project":...}, {"backup":...}, a wake-up) or
// {"action":"sync"|"status"}. Lambda has no queue of its own, so due
// wake-ups are advanced inline until the invocation deadline nears; the
// rest wait for the next sync's sweep of overdue runs. See
// docs/reference/aws-lambda.md.
//
// Run is the whole Lambda process: it builds the Handler and serves
// invocations, answering each with the start-up error when the build
// fails.
package lambdahandler
