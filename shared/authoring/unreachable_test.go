package authoring

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// closedPort returns http://127.0.0.1:<port> with nothing listening there.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// TestUnreachable: failures to reach the resource at all match
// ErrUnreachable; answers (even errors, even cut short) do not.
func TestUnreachable(t *testing.T) {
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, projectJSON) }))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	answer := func(step func(w http.ResponseWriter)) func(t *testing.T) string {
		return func(t *testing.T) string {
			_, url := scripted(t, func(_ int, w http.ResponseWriter, _ *http.Request) { step(w) })
			return url
		}
	}
	tests := []struct {
		name        string
		endpoint    func(t *testing.T) string
		unreachable bool
		// cause is part of the error text.
		cause string
	}{
		{"connection refused", closedPort, true, "connection refused"},
		{"name does not resolve", func(*testing.T) string { return "https://langsync-test-no-such-host.invalid" }, true, "no such host"},
		{"untrusted certificate", func(*testing.T) string { return tlsSrv.URL }, true, "certificate"},
		{"reset before any answer", answer(func(w http.ResponseWriter) { resetConn(t, w) }), true, ""},
		{"closed before any answer", answer(func(w http.ResponseWriter) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}), true, "EOF"},
		{"503 is an answer", answer(func(w http.ResponseWriter) {
			writeJSON(w, 503, `{"error":{"code":"ServiceUnavailable","message":"later"}}`)
		}), false, "503"},
		{"reset mid-body is an answer", answer(func(w http.ResponseWriter) {
			w.Header().Set("Content-Length", fmt.Sprint(len(projectJSON)))
			w.WriteHeader(200)
			io.WriteString(w, projectJSON[:10])
			w.(http.Flusher).Flush()
			resetConn(t, w)
		}), false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestClient(t, tt.endpoint(t), func(o *ClientOptions) { o.Retry.MaxRetries = 1 })
			_, err := env.client.GetProject(context.Background(), "Tickets")
			if err == nil {
				t.Fatal("GetProject succeeded")
			}
			if got := errors.Is(err, ErrUnreachable); got != tt.unreachable {
				t.Errorf("errors.Is(%v, ErrUnreachable) = %v, want %v", err, got, tt.unreachable)
			}
			if !strings.Contains(err.Error(), tt.cause) {
				t.Errorf("error %q does not say %q", err, tt.cause)
			}
			noKey(t, "error", err.Error())
			if strings.Contains(err.Error(), "api-version") {
				t.Errorf("error %q prints the query", err)
			}
		})
	}
}

// TestUnreachableJobStart: a POST that could not connect is retried by the
// client (it was never written) and, when every try fails, reported as
// unreachable and not as maybe-started.
func TestUnreachableJobStart(t *testing.T) {
	env := newTestClient(t, closedPort(t), func(o *ClientOptions) { o.Retry.MaxRetries = 2 })
	_, err := env.client.BeginTrain(context.Background(), "Tickets", TrainOptions{ModelLabel: "m1", TrainingConfigVersion: "latest"})
	if !errors.Is(err, ErrUnreachable) || errors.Is(err, ErrMaybeStarted) {
		t.Fatalf("err = %v, want unreachable and not maybe-started", err)
	}
}

// TestUnreachableRetriedOnce: the client tries an unreachable resource
// twice, however many retries it may make otherwise, so that its retries do
// not stack under the caller's own.
func TestUnreachableRetriedOnce(t *testing.T) {
	var dials atomic.Int32
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connect: connection refused")}
	}}
	env := newTestClient(t, "http://127.0.0.1:9", func(o *ClientOptions) {
		o.Transport = &http.Client{Transport: tr}
		o.Retry.MaxRetries = 4
	})
	_, err := env.client.GetProject(context.Background(), "Tickets")
	if !errors.Is(err, ErrUnreachable) || dials.Load() != 2 {
		t.Fatalf("err %v after %d dials, want unreachable after 2", err, dials.Load())
	}
}

// TestCancelledIsNotUnreachable: the caller giving up while the client
// dials is not the resource being down.
func TestCancelledIsNotUnreachable(t *testing.T) {
	dialing := make(chan struct{})
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		close(dialing)
		<-ctx.Done()
		return nil, &net.OpError{Op: "dial", Net: network, Err: ctx.Err()}
	}}
	env := newTestClient(t, "http://127.0.0.1:9", func(o *ClientOptions) { o.Transport = &http.Client{Transport: tr} })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := env.client.GetProject(ctx, "Tickets")
		done <- err
	}()
	<-dialing
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v, want a cancellation that is not ErrUnreachable", err)
	}
}
