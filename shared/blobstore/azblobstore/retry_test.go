package azblobstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/blobstore/azblobstore"
	"github.com/langsync/langsync/shared/nettest"
)

const (
	// Azurite's well-known key: any account key works against a listener
	// that never reads the request.
	retryTestKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	retryTestSig = "c2lnLXRoYXQtbXVzdC1ub3QtbGVhaw"
)

func connString(addr string) string {
	return "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + retryTestKey + ";BlobEndpoint=http://" + addr + "/devstoreaccount1"
}

// events collects OnRetry calls.
type events struct {
	mu  sync.Mutex
	got []azblobstore.RetryEvent
}

func (e *events) add(ev azblobstore.RetryEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, ev)
}

func (e *events) list() []azblobstore.RetryEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]azblobstore.RetryEvent(nil), e.got...)
}

// An endpoint that accepts connections and never answers: each try ends
// at the try timeout, every retry is reported with the endpoint and the
// attempt, and the error names the endpoint and what to check. The bounds
// are the test's (3 tries of 100 ms), so nothing here waits on a clock.
func TestAzureUnansweredEndpoint(t *testing.T) {
	silent := nettest.NewSilent(t)
	var ev events
	s, err := azblobstore.NewFromConnectionString(connString(silent.Addr), &azblobstore.Options{
		Retry:   azblobstore.RetryOptions{MaxRetries: 2, TryTimeout: 100 * time.Millisecond, RetryDelay: time.Millisecond, MaxRetryDelay: time.Millisecond},
		OnRetry: ev.add,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Stat(context.Background(), "cont", "k")
	var ue *azblobstore.UnreachableError
	if !errors.As(err, &ue) || ue.Endpoint != silent.Addr || ue.Tries != 3 || ue.TryTimeout != 100*time.Millisecond {
		t.Fatalf("Stat = %v (%+v), want an UnreachableError for %s after 3 tries of 100ms", err, ue, silent.Addr)
	}
	for _, want := range []string{"blob store " + silent.Addr + " did not answer within 100ms (3 tries)", "check the store setting"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), retryTestKey) || strings.Contains(err.Error(), "http://") {
		t.Errorf("error carries the key or a URL: %v", err)
	}
	got := ev.list()
	if len(got) != 2 {
		t.Fatalf("retries reported: %+v, want attempts 2 and 3", got)
	}
	for i, e := range got {
		if e.Endpoint != silent.Addr || e.Attempt != i+2 || e.Attempts != 3 || e.Err == nil || e.Err.Error() != "no answer within 100ms" {
			t.Errorf("retry %d = %+v", i, e)
		}
	}
	silent.WaitAccepted(t, 3)
}

// A request that carries blob data gets the transfer try timeout, the
// others the plain one: with a plain timeout far away, a Put still ends at
// its 100 ms, and a Stat ends at its 100 ms with the transfer's far away.
func TestAzureTransferTryTimeout(t *testing.T) {
	silent := nettest.NewSilent(t)
	ctx := context.Background()
	put, err := azblobstore.NewFromConnectionString(connString(silent.Addr), &azblobstore.Options{
		Retry: azblobstore.RetryOptions{MaxRetries: -1, TryTimeout: time.Hour, TransferTryTimeout: 100 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = put.Put(ctx, "cont", "k", strings.NewReader("data"), nil)
	var ue *azblobstore.UnreachableError
	if !errors.As(err, &ue) || ue.TryTimeout != 100*time.Millisecond || ue.Tries != 1 {
		t.Fatalf("Put = %v, want one try of the 100ms transfer timeout", err)
	}
	stat, err := azblobstore.NewFromConnectionString(connString(silent.Addr), &azblobstore.Options{
		Retry: azblobstore.RetryOptions{MaxRetries: -1, TryTimeout: 100 * time.Millisecond, TransferTryTimeout: time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err = stat.Stat(ctx, "cont", "k"); !errors.As(err, &ue) || ue.TryTimeout != 100*time.Millisecond {
		t.Fatalf("Stat = %v, want the 100ms try timeout", err)
	}
}

// A refused connection is retried and reported too; neither the retry
// lines nor the error repeat the SAS, although net/http's own error quotes
// the request URL with it.
func TestAzureRefusedEndpointKeepsSASOut(t *testing.T) {
	addr := nettest.Refused(t)
	var ev events
	s, err := azblobstore.NewFromSASURL("http://"+addr+"/devstoreaccount1?sv=2021-08-06&ss=b&srt=sco&sp=rwdlac&sig="+retryTestSig, &azblobstore.Options{
		Retry:   azblobstore.RetryOptions{MaxRetries: 1, RetryDelay: time.Millisecond, MaxRetryDelay: time.Millisecond},
		OnRetry: ev.add,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.List(context.Background(), "cont", "")
	if err == nil || !strings.Contains(err.Error(), "cannot reach blob store "+addr+" (2 tries)") || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("List = %v, want a refused connection to %s after 2 tries", err, addr)
	}
	got := ev.list()
	if len(got) != 1 || got[0].Attempt != 2 || got[0].Attempts != 2 || !strings.Contains(got[0].Err.Error(), "refused") {
		t.Fatalf("retries reported: %+v", got)
	}
	for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), got[0].Err.Error()} {
		if strings.Contains(text, retryTestSig) || strings.Contains(text, "sig=") {
			t.Fatalf("the SAS leaked: %s", text)
		}
	}
}

// stallingTransport serves one blob: the first GET sends half the body and
// then stalls until its try's context ends; a later GET must ask for the
// rest (Range from the byte reached, If-Match on the ETag) and gets it.
type stallingTransport struct {
	blob []byte
	mu   sync.Mutex
	reqs []*http.Request
}

func (s *stallingTransport) Do(req *http.Request) (*http.Response, error) {
	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	n := len(s.reqs)
	s.mu.Unlock()
	h := http.Header{"Etag": {`"v1"`}, "Content-Type": {"application/octet-stream"}}
	half := len(s.blob) / 2
	if n == 1 {
		h.Set("Content-Length", fmt.Sprint(len(s.blob)))
		body := io.MultiReader(bytes.NewReader(s.blob[:half]), stallReader{req.Context()})
		return &http.Response{StatusCode: http.StatusOK, Header: h, Body: io.NopCloser(body), Request: req}, nil
	}
	h.Set("Content-Length", fmt.Sprint(len(s.blob)-half))
	h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", half, len(s.blob)-1, len(s.blob)))
	return &http.Response{StatusCode: http.StatusPartialContent, Header: h, Body: io.NopCloser(bytes.NewReader(s.blob[half:])), Request: req}, nil
}

type stallReader struct{ ctx context.Context }

func (r stallReader) Read([]byte) (int, error) {
	<-r.ctx.Done()
	return 0, r.ctx.Err()
}

// The try timeout does not cut a download: a body still being read when
// its try ends is fetched on from where it stopped.
func TestAzureDownloadOutlivesTryTimeout(t *testing.T) {
	blob := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	tr := &stallingTransport{blob: blob}
	s, err := azblobstore.NewFromConnectionString(connString("127.0.0.1:1"), &azblobstore.Options{
		HTTPClient: &http.Client{Transport: roundTripper(tr.Do)},
		Retry:      azblobstore.RetryOptions{TryTimeout: 50 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := s.Get(context.Background(), "cont", "k")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, blob) {
		t.Fatalf("read %d of %d bytes, err %v", len(got), len(blob), err)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(tr.reqs))
	}
	second := tr.reqs[1].Header
	// azblob sets x-ms-range directly in the map, not canonicalized, so
	// Header.Get would miss it.
	if rg, want := headerFold(second, "x-ms-range"), fmt.Sprintf("bytes=%d-", len(blob)/2); rg != want {
		t.Errorf("second request's range %q, want %q", rg, want)
	}
	if im := second.Get("If-Match"); im != `"v1"` {
		t.Errorf("second request's If-Match %q, want the ETag", im)
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// headerFold returns the values of the header named key in any letter case.
func headerFold(h http.Header, key string) string {
	var vals []string
	for k, v := range h {
		if strings.EqualFold(k, key) {
			vals = append(vals, v...)
		}
	}
	return strings.Join(vals, ",")
}

// pollerTimeout fails every request as a dial whose connection deadline
// passed: the network poller's own timeout, which can come before the
// request context's timer has fired when both hold one deadline.
type pollerTimeout struct{ tries atomic.Int32 }

func (p *pollerTimeout) RoundTrip(*http.Request) (*http.Response, error) {
	p.tries.Add(1)
	return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}
}

// Such a failure is the try's timeout: reported as no answer within the
// try timeout, not as some other transport error.
func TestAzurePollerTimeoutIsATryTimeout(t *testing.T) {
	rt := &pollerTimeout{}
	s, err := azblobstore.NewFromConnectionString(connString("127.0.0.1:1"), &azblobstore.Options{
		Retry:      azblobstore.RetryOptions{MaxRetries: 1, TryTimeout: 100 * time.Millisecond, RetryDelay: time.Millisecond, MaxRetryDelay: time.Millisecond},
		HTTPClient: &http.Client{Transport: rt},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Stat(context.Background(), "cont", "k")
	if err == nil || !strings.Contains(err.Error(), "did not answer within 100ms (2 tries)") || rt.tries.Load() != 2 {
		t.Fatalf("Stat = %v after %d tries, want no answer within 100ms after 2", err, rt.tries.Load())
	}
}
