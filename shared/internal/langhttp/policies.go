package langhttp

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// hostPinPolicy refuses requests whose scheme or host differ from the
// endpoint's. It runs before the retry and credential policies, so nothing
// (and no credential) is ever sent to a foreign host.
type hostPinPolicy struct {
	origin string
	err    error
}

func (p hostPinPolicy) Do(req *policy.Request) (*http.Response, error) {
	if o := OriginOf(req.Raw().URL); o != p.origin {
		return nil, fmt.Errorf("%w: %s is not on %s: refusing to send the request or credentials there", p.err, RedactURL(req.Raw().URL), p.origin)
	}
	return req.Next()
}

// OriginOf returns scheme://host:port in lower case with the default port
// filled in, so that https://h and https://H:443 compare equal.
func OriginOf(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "" {
		switch scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// RedactURL renders scheme://host/path: the query may carry api-version,
// paging state or (on a resultUrl) a signature, and is never printed.
func RedactURL(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}).String()
}

// IsLoopback reports localhost or a loopback IP: the only hosts that get
// credentials over plain http (emulators).
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hiddenRetryAfter carries a Retry-After that HideRetryAfter took over.
const hiddenRetryAfter = "X-Langsync-Retry-After-Ms"

// HideRetryAfter moves the Retry-After of resp out of sight of azcore's
// retry policy, which would otherwise sleep it on the wall clock (or give up
// when it exceeds MaxRetryDelay) on top of the client's own handling, and
// returns it. ParseRetryAfter still reads it, so errors can report it.
func HideRetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	d, ok := ParseRetryAfter(h, now)
	if ok {
		h.Set(hiddenRetryAfter, strconv.FormatInt(d.Milliseconds(), 10))
		h.Del("Retry-After")
		h.Del("Retry-After-Ms")
		h.Del("X-Ms-Retry-After-Ms")
	}
	return d, ok
}

// ParseRetryAfter reads retry-after-ms, x-ms-retry-after-ms or Retry-After
// (seconds or an HTTP date), or one that HideRetryAfter moved.
func ParseRetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	for _, k := range []string{hiddenRetryAfter, "Retry-After-Ms", "X-Ms-Retry-After-Ms"} {
		if v := h.Get(k); v != "" {
			if ms, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && ms >= 0 {
				return time.Duration(ms) * time.Millisecond, true
			}
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// logPolicy writes one line per try: debug for answers, the failure level
// for 429, 5xx and transport failures. It logs method, URL without the
// query, status, request id, Retry-After and duration; never headers or
// bodies.
type logPolicy struct {
	name    string
	logger  *slog.Logger
	failure slog.Level
}

func (p logPolicy) Do(req *policy.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := req.Next()
	ctx := req.Raw().Context()
	attrs := []any{"method", req.Raw().Method, "url", RedactURL(req.Raw().URL), "elapsed", time.Since(start).Round(time.Millisecond)}
	if err != nil {
		p.logger.Log(ctx, p.failure, p.name+" request failed", append(attrs, "err", SanitizeErr(err))...)
		return resp, err
	}
	attrs = append(attrs, "status", resp.StatusCode)
	if id := resp.Header.Get("Apim-Request-Id"); id != "" {
		attrs = append(attrs, "requestID", id)
	}
	if d, ok := ParseRetryAfter(resp.Header, time.Now()); ok {
		attrs = append(attrs, "retryAfterMs", d.Milliseconds())
	}
	level := slog.LevelDebug
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= http.StatusInternalServerError {
		level = p.failure
	}
	p.logger.Log(ctx, level, p.name+" request", attrs...)
	return resp, err
}

// SentError marks a transport error that happened after the whole request
// had been written: the service may have acted on it.
type SentError struct{ Err error }

func (e *SentError) Error() string { return e.Err.Error() }
func (e *SentError) Unwrap() error { return e.Err }

// NoAnswerError marks a failure to reach the resource at all: no byte of an
// answer arrived and the connection itself failed (see connectionFailure).
type NoAnswerError struct{ Err error }

func (e *NoAnswerError) Error() string { return e.Err.Error() }
func (e *NoAnswerError) Unwrap() error { return e.Err }

// TryOptions are per-request settings of the send policy, set with
// policy.Request.SetOperationValue.
type TryOptions struct {
	// Timeout replaces Options.TryTimeout for this request.
	Timeout time.Duration
	// Stream keeps the try's timeout running until the caller closes the
	// body (with runtime.SkipBodyDownload).
	Stream bool
}

// sendPolicy is the innermost policy. It bounds each try with a timeout
// (kept here rather than in azcore's TryTimeout so that time spent in
// PerTry policies, such as waiting for a rate budget, does not count against
// the try), and records with an httptrace whether the request was
// completely written, marking later failures with SentError.
type sendPolicy struct{ tryTimeout time.Duration }

func (p sendPolicy) Do(req *policy.Request) (*http.Response, error) {
	var to TryOptions
	req.OperationValue(&to)
	timeout := p.tryTimeout
	if to.Timeout > 0 {
		timeout = to.Timeout
	}
	ctx := req.Raw().Context()
	var cancel context.CancelFunc = func() {}
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, timeout)
	}
	// WroteRequest runs on the transport's writer goroutine.
	var written, answered atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest:         func(info httptrace.WroteRequestInfo) { written.Store(info.Err == nil) },
		GotFirstResponseByte: func() { answered.Store(true) },
	})
	try := req.WithContext(ctx)
	if err := inMemoryBody(try.Raw()); err != nil {
		cancel()
		return nil, err
	}
	resp, err := try.Next()
	if err != nil {
		cancel()
		if !answered.Load() && req.Raw().Context().Err() == nil && connectionFailure(err) {
			err = &NoAnswerError{err}
		}
		if written.Load() {
			return resp, &SentError{err}
		}
		return resp, err
	}
	if to.Stream && resp.StatusCode < http.StatusBadRequest {
		// The body is read by the caller: cancel when it is closed.
		resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	} else {
		// azcore's body download policy has buffered the body already.
		cancel()
	}
	return resp, nil
}

// maxInMemoryBody bounds the request bodies inMemoryBody copies.
const maxInMemoryBody = 4 << 20

// inMemoryBody hands net/http a small request body as a *bytes.Reader.
// azcore's retry policy wraps every body in a type net/http does not know to
// be in memory, so net/http flushes the headers and writes the body after
// them (golang.org/issue/22088): a server that hangs up once it has read the
// headers then shows as a write error naming the local port, different on
// every run, instead of as EOF. r is this try's copy of the request; azcore
// rewinds the original body before the next try.
func inMemoryBody(r *http.Request) error {
	if r.Body == nil || r.ContentLength <= 0 || r.ContentLength > maxInMemoryBody {
		return nil
	}
	b := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(r.Body, b); err != nil {
		return fmt.Errorf("reading the request body: %w", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return nil
}

// connectionFailure reports an error of the connection itself: dialling
// (refused, no route, dial timeout), DNS, TLS handshake and certificate
// checks, or a connection closed or reset (only called before any answer).
// A try timeout or a cancelled request is not one.
func connectionFailure(err error) bool {
	var (
		dns   *net.DNSError
		op    *net.OpError
		cert  *tls.CertificateVerificationError
		auth  x509.UnknownAuthorityError
		host  x509.HostnameError
		inval x509.CertificateInvalidError
		rec   tls.RecordHeaderError
		alert tls.AlertError
	)
	switch {
	case errors.As(err, &dns), errors.As(err, &cert), errors.As(err, &auth), errors.As(err, &host),
		errors.As(err, &inval), errors.As(err, &rec), errors.As(err, &alert):
		return true
	case errors.As(err, &op) && op.Op == "dial":
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	}
	// net/http's handshake timeout has no exported type.
	return strings.Contains(err.Error(), "TLS handshake timeout")
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// SanitizeErr strips the URL that net/http puts in its errors (it includes
// the query) and the markers of this package, and keeps the cause.
func SanitizeErr(err error) error {
	for {
		switch e := err.(type) {
		case *SentError:
			err = e.Err
			continue
		case *NoAnswerError:
			err = e.Err
			continue
		case *url.Error:
			err = e.Err
			continue
		}
		return err
	}
}
