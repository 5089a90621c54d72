package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/config"
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
	h, err := buildLambdaHandler(ctx, env, log)
	if err != nil {
		// Every invoke reports the start-up error, so it shows in the
		// caller's response and in CloudWatch, instead of a crash loop.
		log.Error("start-up failed", "err", err)
		h = initError{err}
	}
	lambdahandler.Start(ctx, h)
	return exitOK, true
}

// initError answers every invoke with the start-up error.
type initError struct{ err error }

func (e initError) Invoke(context.Context, []byte) ([]byte, error) {
	return nil, fmt.Errorf("langsync could not start: %w", e.err)
}

var _ lambda.Handler = initError{}

// buildLambdaHandler wires the app from the function's environment (the
// same settings as the Functions app: LANGSYNC_CONFIG or LANGSYNC_*,
// LANGSYNC_STORE) into the Lambda handler. LANGSYNC_LAMBDA_URL_KEY, when
// set, is the key Function URL callers must send in x-langsync-key.
func buildLambdaHandler(ctx context.Context, env *Env, log *slog.Logger) (lambda.Handler, error) {
	cfg, err := config.FromAppSettings(env.Getenv)
	if err != nil {
		return nil, err
	}
	aopts := &app.Options{Logger: log}
	if env.appOptions != nil {
		env.appOptions(aopts)
	}
	a, err := app.New(ctx, cfg, aopts)
	if err != nil {
		return nil, err
	}
	// Lambda has no queue holding scheduled wake-ups: a run whose wake-up is
	// due waits only for the next scheduled sync, so its sweep takes every
	// due run, not only those overdue by the Functions grace.
	entry := &pipelineEntry{p: a.Pipeline, state: a.State, now: timeNow, log: log, restore: a, sweepGrace: time.Second}
	return lambdahandler.New(lambdahandler.Options{
		Runs: entry, Starts: entry, Status: entry,
		Failed: stateKeeper{store: a.Store, container: cfg.Containers.State},
		URLKey: langsync.Secret(env.Getenv("LANGSYNC_LAMBDA_URL_KEY")),
		Logger: log,
	})
}
