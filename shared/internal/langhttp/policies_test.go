package langhttp

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		header, value string
		want          time.Duration
		ok            bool
	}{
		{"Retry-After", "2", 2 * time.Second, true},
		{"Retry-After", "0.5", 500 * time.Millisecond, true},
		{"Retry-After", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"Retry-After", "soon", 0, false},
		{"Retry-After-Ms", "250", 250 * time.Millisecond, true},
		{"X-Ms-Retry-After-Ms", "40", 40 * time.Millisecond, true},
		{"", "", 0, false},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.header != "" {
			h.Set(tt.header, tt.value)
		}
		if d, ok := ParseRetryAfter(h, now); d != tt.want || ok != tt.ok {
			t.Errorf("%s: %q = %v, %v; want %v, %v", tt.header, tt.value, d, ok, tt.want, tt.ok)
		}
		// Hidden, it is still read, and azcore's retry policy no longer sees it.
		HideRetryAfter(h, now)
		if d, ok := ParseRetryAfter(h, now); d != tt.want || ok != tt.ok {
			t.Errorf("hidden %s: %q = %v, %v; want %v, %v", tt.header, tt.value, d, ok, tt.want, tt.ok)
		}
		if tt.ok && (h.Get("Retry-After") != "" || h.Get("Retry-After-Ms") != "" || h.Get("X-Ms-Retry-After-Ms") != "") {
			t.Errorf("%s: still visible after HideRetryAfter: %v", tt.header, h)
		}
	}
}

// TestPipeline: the key goes to the origin only, a redirect is not
// followed, and a hidden Retry-After does not make azcore's retry policy
// give up (as it does on one longer than MaxRetryDelay).
func TestPipeline(t *testing.T) {
	errForeign := errors.New("foreign host")
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(KeyHeader) != "k" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "http://elsewhere.example/", http.StatusFound)
		case "/throttled":
			if n.Add(1) == 1 {
				w.Header().Set("Retry-After", "3600")
				w.WriteHeader(http.StatusTooManyRequests)
			}
		case "/echo":
			io.Copy(w, r.Body)
		}
	}))
	defer srv.Close()
	u, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	hide := policyFunc(func(req *policy.Request) (*http.Response, error) {
		resp, err := req.Next()
		if err == nil {
			HideRetryAfter(resp.Header, time.Now())
		}
		return resp, err
	})
	pl := NewPipeline(Options{
		Name: "test", Origin: OriginOf(u.URL), ForeignHost: errForeign, Key: "k", AllowHTTP: true,
		Retry:  policy.RetryOptions{RetryDelay: time.Millisecond, MaxRetryDelay: time.Second},
		PerTry: []policy.Policy{hide},
	})
	do := func(url string) (*http.Response, error) {
		req, err := runtime.NewRequest(context.Background(), http.MethodGet, url)
		if err != nil {
			t.Fatal(err)
		}
		return pl.Do(req)
	}
	// Every try sends the whole body, and net/http gets it as an in-memory
	// reader (one write with the headers, see inMemoryBody).
	var bodies []string
	sent := NewPipeline(Options{
		Name: "test", Origin: OriginOf(u.URL), ForeignHost: errForeign, Key: "k", AllowHTTP: true,
		Retry: policy.RetryOptions{RetryDelay: time.Millisecond, StatusCodes: []int{http.StatusTeapot}},
		Transport: transporterFunc(func(r *http.Request) (*http.Response, error) {
			if _, ok := r.Body.(interface {
				WriteTo(io.Writer) (int64, error)
			}); !ok {
				t.Errorf("try %d: body %T is not an in-memory reader", len(bodies)+1, r.Body)
			}
			b, _ := io.ReadAll(r.Body)
			bodies = append(bodies, string(b))
			status := http.StatusTeapot
			if len(bodies) > 1 {
				status = http.StatusOK
			}
			return &http.Response{StatusCode: status, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
		}),
	})
	req, _ := runtime.NewRequest(context.Background(), http.MethodPost, srv.URL+"/echo")
	req.SetBody(streaming.NopCloser(strings.NewReader("payload")), "text/plain")
	if resp, err := sent.Do(req); err != nil || resp.StatusCode != http.StatusOK || strings.Join(bodies, ",") != "payload,payload" {
		t.Errorf("body: %v, %v; sent %q, want payload twice", resp, err, bodies)
	}
	if _, err := do("http://elsewhere.example/x"); !errors.Is(err, errForeign) {
		t.Errorf("foreign URL: err = %v, want the ForeignHost sentinel", err)
	}
	if resp, err := do(srv.URL + "/redirect"); err != nil || resp.StatusCode != http.StatusFound {
		t.Errorf("redirect: %v, %v; want the 302 itself", resp, err)
	}
	if resp, err := do(srv.URL + "/throttled"); err != nil || resp.StatusCode != http.StatusOK || n.Load() != 2 {
		t.Errorf("throttled: %v, %v after %d tries; want 200 after 2", resp, err, n.Load())
	}
}

type transporterFunc func(*http.Request) (*http.Response, error)

func (f transporterFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

type policyFunc func(*policy.Request) (*http.Response, error)

func (f policyFunc) Do(req *policy.Request) (*http.Response, error) { return f(req) }
