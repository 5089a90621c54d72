package main

import (
	"context"
	"errors"
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

func TestLambdaStartupErrorIsReported(t *testing.T) {
	env := &Env{Getenv: func(k string) string { return map[string]string{"LANGSYNC_CONFIG": "resources: ["}[k] }}
	_, err := buildLambdaHandler(context.Background(), env, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "LANGSYNC_CONFIG") {
		t.Fatalf("err=%v, want a config error naming LANGSYNC_CONFIG", err)
	}
	_, ierr := initError{err}.Invoke(context.Background(), []byte(`{"action":"sync"}`))
	if !errors.Is(ierr, err) || !strings.Contains(ierr.Error(), "could not start") {
		t.Fatalf("invoke err=%v", ierr)
	}
}
