// Package lambdahandler runs langsync as an AWS Lambda function (the only
// importer of aws-lambda-go), so that the replicator need not share fate
// with the Azure region it protects. Handler implements lambda.Handler over
// the same pipeline entry points as the Azure Functions custom handler
// (customhandler.Runner, Starter, Reporter): an EventBridge scheduled rule
// event runs the sync, a Function URL request serves status, replicate,
// restore and sync by path, and a direct invoke takes langsync's queue
// message shapes ({"project":...}, {"backup":...}, a wake-up) or
// {"action":"sync"|"status"}. Lambda has no queue of its own, so due
// wake-ups are advanced inline until the invocation deadline nears; the rest
// wait for the next sync's sweep of overdue runs. See aws-lambda.md.
package lambdahandler
