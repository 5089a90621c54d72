package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/langsync/langsync/shared/lambdahandler"
	"github.com/langsync/langsync/shared/langsync"
)

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
// LANGSYNC_STORE) into the Lambda handler. LANGSYNC_LAMBDA_URL_KEY, when
// set, is the key Function URL callers must send in x-langsync-key.
func buildLambdaHandler(ctx context.Context, env *Env, log *slog.Logger) (*lambdahandler.Handler, error) {
	// Lambda has no queue holding scheduled wake-ups: a run whose wake-up is
	// due waits only for the next scheduled sync, so its sweep takes every
	// due run, not only those overdue by the Functions grace.
	w, err := wireHost(ctx, env, log, time.Second)
	if err != nil {
		return nil, err
	}
	return lambdahandler.New(lambdahandler.Options{
		Runs: w.points, Starts: w.points, Status: w.points,
		Failed: w.failed,
		URLKey: langsync.Secret(env.Getenv("LANGSYNC_LAMBDA_URL_KEY")),
		Logger: log,
	})
}
