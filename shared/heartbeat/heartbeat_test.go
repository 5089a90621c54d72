package heartbeat

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

type ping struct{ method, path, body string }

// monitor is a local check endpoint in the healthchecks.io style.
func monitor(t *testing.T, status int) (*httptest.Server, func() []ping) {
	var mu sync.Mutex
	var got []ping
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, ping{r.Method, r.URL.Path, string(b)})
		mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []ping {
		mu.Lock()
		defer mu.Unlock()
		return append([]ping(nil), got...)
	}
}

func TestBeat(t *testing.T) {
	const token = "0f6c1b2a-secret-token"
	for _, tc := range []struct {
		name     string
		ok       bool
		reason   string
		wantPath string
		wantBody string
	}{
		{"success", true, "", "/ping/" + token, ""},
		{"failure", false, "1 of 2 pairs not in sync:\n primary/Tickets -> secondary: last run failed", "/ping/" + token + "/fail", "1 of 2 pairs not in sync: primary/Tickets -> secondary: last run failed"},
		{"long reason", false, strings.Repeat("x", 2*MaxReason), "/ping/" + token + "/fail", strings.Repeat("x", MaxReason-3) + "..."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, got := monitor(t, http.StatusOK)
			p := New(srv.URL+"/ping/"+token+"/", nil)
			if err := p.Beat(context.Background(), tc.ok, tc.reason); err != nil {
				t.Fatal(err)
			}
			g := got()
			if len(g) != 1 || g[0].method != http.MethodPost || g[0].path != tc.wantPath || g[0].body != tc.wantBody {
				t.Fatalf("pings %+v, want one POST %s with %q", g, tc.wantPath, tc.wantBody)
			}
		})
	}
}

// TestBeatErrorHidesToken: a monitor that refuses the ping is tried again,
// and the error names the host, never the token.
func TestBeatErrorHidesToken(t *testing.T) {
	const token = "0f6c1b2a-secret-token"
	srv, got := monitor(t, http.StatusNotFound)
	p := New(srv.URL+"/"+token, nil)
	p.Backoff = 0
	err := p.Beat(context.Background(), false, "x")
	if err == nil || !strings.Contains(err.Error(), "404") || strings.Contains(err.Error(), token) {
		t.Fatalf("error %v: want the 404 and no token", err)
	}
	if n := len(got()); n != 3 {
		t.Errorf("%d tries, want 3", n)
	}
	// A host that does not answer: url.Error would print the whole URL.
	srv.Close()
	p = New(srv.URL+"/"+token, nil)
	p.Backoff = 0
	err = p.Beat(context.Background(), true, "")
	if err == nil || strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("error %v: want the host and no token", err)
	}
}
