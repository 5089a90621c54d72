package main

import (
	"fmt"
	"io"
	"sync"

	"github.com/langsync/langsync/shared/blobstore/azblobstore"
	"github.com/langsync/langsync/shared/blobstore/storeopen"
	"github.com/langsync/langsync/shared/queue"
)

// lockedWriter serializes writes to stderr: retry lines come from the
// goroutines of the SDKs while the logger writes too.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// printRetry writes the line a retry shows while the command waits, e.g.
// "retrying blob store 127.0.0.1:10000 (attempt 2 of 4): no answer within
// 10s". The endpoint is a host:port and the error carries no URL, so no key
// or SAS reaches the line.
func printRetry(w io.Writer, service, endpoint string, attempt, attempts int, err error) {
	fmt.Fprintf(w, "retrying %s %s (attempt %d of %d): %v\n", service, endpoint, attempt, attempts, err)
}

// blobOptions are the store options of a command: a line on w per retry,
// and the run's tuning (tests shorten the bounds).
func blobOptions(env *Env, w io.Writer) *storeopen.Options {
	o := &storeopen.Options{OnRetry: func(e azblobstore.RetryEvent) {
		printRetry(w, "blob store", e.Endpoint, e.Attempt, e.Attempts, e.Err)
	}}
	if env.tuneBlob != nil {
		env.tuneBlob(o)
	}
	return o
}

// queueOptions are the Service Bus options of a command, like blobOptions.
func queueOptions(env *Env, w io.Writer) *queue.Options {
	o := &queue.Options{OnRetry: func(e queue.RetryEvent) {
		printRetry(w, "Service Bus", e.Endpoint, e.Attempt, e.Attempts, e.Err)
	}}
	if env.tuneQueue != nil {
		env.tuneQueue(o)
	}
	return o
}
