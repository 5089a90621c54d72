package customhandler

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// ErrNoPort is returned by Addr when the host set no port.
var ErrNoPort = errors.New("FUNCTIONS_CUSTOMHANDLER_PORT is not set")

// Addr returns the address to listen on: 127.0.0.1 and the port the host chose
// (FUNCTIONS_CUSTOMHANDLER_PORT, or its legacy twin FUNCTIONS_HTTPWORKER_PORT).
// The host always calls 127.0.0.1
// (docs/reference/functions-protocol.md#process-start-and-readiness).
func Addr(getenv func(string) string) (string, error) {
	for _, k := range []string{"FUNCTIONS_CUSTOMHANDLER_PORT", "FUNCTIONS_HTTPWORKER_PORT"} {
		if p := getenv(k); p != "" {
			return net.JoinHostPort("127.0.0.1", p), nil
		}
	}
	return "", fmt.Errorf("customhandler: %w: langsync serve runs under the Azure Functions host (or the host simulator), which sets it; to try it by hand, set FUNCTIONS_CUSTOMHANDLER_PORT=7071", ErrNoPort)
}

// Serve answers invocations on ln until ctx ends, then shuts down, letting
// in-flight invocations finish for up to grace.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, grace time.Duration) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("customhandler: serving: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("customhandler: shutting down: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("customhandler: serving: %w", err)
	}
	return nil
}
