// Package lambdahandler runs langsync as an AWS Lambda function (the only
// importer of aws-lambda-go), so that the replicator need not share fate
// with the Azure region it protects. Handler implements lambda.Handler over
// the same pipeline entry points as the Azure Functions custom handler
// (shared/entry's Points), through the Runner, Starter and Reporter
// interfaces declared here over shared/langsync's message shapes; it does
// not depend on the Functions host. An EventBridge scheduled rule event
// or Scheduler input ({} or {"scheduledTime":...}) runs the sync, a
// Function URL or API Gateway (REST v1 or HTTP 2.0) request serves status,
// replicate, restore and sync by path, an SQS event carries langsync
// messages record by record (answered with the batch item failures), and
// a direct invoke takes langsync's queue message shapes
// ({"project":...}, {"backup":...}, a wake-up) or
// {"action":"sync"|"status"}. With a Sender (the SQS wake-up queue,
// shared/sqswake) wake-ups are sent with a delay of up to 15 minutes;
// without one, due wake-ups are advanced inline until the invocation
// deadline nears. The rest wait for the next sync's sweep of overdue runs.
// See docs/aws.md and docs/reference/aws-lambda.md.
//
// Run is the whole Lambda process: it builds the Handler and serves
// invocations, answering each with the start-up error when the build
// fails.
package lambdahandler
