package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/langsync/langsync/shared/lambdahandler"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/sqswake"
)

// The Lambda host's own settings (docs/aws.md#settings); the app's are the
// Functions app's (LANGSYNC_CONFIG or LANGSYNC_*, LANGSYNC_STORE).
const (
	// envLambdaURLKey, when set, is the key Function URL and API Gateway
	// callers must send in x-langsync-key (optional: with AWS_IAM auth the
	// caller is authenticated already).
	envLambdaURLKey = "LANGSYNC_LAMBDA_URL_KEY"
	// envSQSQueueURL, when set, is the wake-up queue: wake-ups are sent
	// there instead of being advanced inline (optional).
	envSQSQueueURL = "LANGSYNC_SQS_QUEUE_URL"
	// envSQSEndpoint replaces the SQS endpoint (optional; local stand-ins).
	envSQSEndpoint = "LANGSYNC_SQS_ENDPOINT"
)

// lambdaSettings lists every setting the Lambda host reads itself, for the
// SAM template's structure test (infra/aws).
var lambdaSettings = []string{envLambdaURLKey, envSQSQueueURL, envSQSEndpoint}

// runLambda serves AWS Lambda invocations when the process runs inside
// Lambda (AWS_LAMBDA_RUNTIME_API is set); ok is false otherwise and the CLI
// runs as usual. It returns only if the runtime loop ends.
func runLambda(ctx context.Context, env *Env) (code int, ok bool) {
	if !lambdahandler.Detect(env.Getenv) {
		return 0, false
	}
	log := slog.New(slog.NewJSONHandler(env.Stdout, nil))
	lambdahandler.Run(ctx, log, func(ctx context.Context) (*lambdahandler.Handler, error) {
		return buildLambdaHandler(ctx, env, log)
	})
	return exitOK, true
}

// buildLambdaHandler wires the app from the function's environment (the
// same settings as the Functions app: LANGSYNC_CONFIG or LANGSYNC_*,
// LANGSYNC_STORE) into the Lambda handler, with the settings above.
func buildLambdaHandler(ctx context.Context, env *Env, log *slog.Logger) (*lambdahandler.Handler, error) {
	// Lambda has no queue holding scheduled wake-ups: a run whose wake-up is
	// due waits only for the next scheduled sync, so its sweep takes every
	// due run, not only those overdue by the Functions grace.
	w, err := wireHost(ctx, env, log, time.Second)
	if err != nil {
		return nil, err
	}
	opts := lambdahandler.Options{
		Runs: w.points, Starts: w.points, Status: w.points,
		Failed: w.failed,
		URLKey: langsync.Secret(env.Getenv(envLambdaURLKey)),
		Logger: log,
	}
	if q := env.Getenv(envSQSQueueURL); q != "" {
		s, err := sqswake.New(sqswake.Options{QueueURL: q, Region: env.Getenv("AWS_REGION"),
			Endpoint: env.Getenv(envSQSEndpoint), Getenv: env.Getenv})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", envSQSQueueURL, err)
		}
		opts.Wakes = s
	}
	return lambdahandler.New(opts)
}
