package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
)

func TestLambdaModeOnlyInLambda(t *testing.T) {
	env := &Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }}
	if code, ok := runLambda(context.Background(), env); ok || code != 0 {
		t.Fatalf("runLambda without AWS_LAMBDA_RUNTIME_API = %d, %v; want the CLI to run", code, ok)
	}
}

// The start-up error names the bad setting; lambdahandler.Run answers every
// invoke with it (tested there).
func TestLambdaStartupErrorIsReported(t *testing.T) {
	env := &Env{Getenv: func(k string) string { return map[string]string{"LANGSYNC_CONFIG": "resources: ["}[k] }}
	_, err := buildLambdaHandler(context.Background(), env, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "LANGSYNC_CONFIG") {
		t.Fatalf("err=%v, want a config error naming LANGSYNC_CONFIG", err)
	}
}
