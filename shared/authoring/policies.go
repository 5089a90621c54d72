package authoring

import (
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

// The pipeline, outermost first:
//
//	host pin (per call)  refuses any URL off the endpoint's scheme://host,
//	                     before a credential policy can see the request
//	azcore retry         capped exponential backoff with jitter; what is
//	                     retried is decided per request (retryDecider)
//	budget (per try)     waits for the shared per-host rate budget
//	log (per try)        one slog line per try: method, URL without query,
//	                     status, duration; never headers
//	throttle (per try)   turns Retry-After on 429/503 into a pause of the
//	                     shared budget (see throttlePolicy)
//	key or bearer        azcore's credential policy
//	send (per try)       per-try timeout and the "was the request written"
//	                     trace that makes job-starting POSTs safe to retry

// hostPinPolicy refuses requests whose scheme or host differ from the
// endpoint's. It runs before the retry and credential policies, so nothing
// (and no credential) is ever sent to a foreign host.
type hostPinPolicy struct{ origin string }

func (p hostPinPolicy) Do(req *policy.Request) (*http.Response, error) {
	if o := originOf(req.Raw().URL); o != p.origin {
		return nil, fmt.Errorf("%w: %s is not on %s: refusing to send the request or credentials there", ErrForeignHost, redactURL(req.Raw().URL), p.origin)
	}
	return req.Next()
}

// originOf returns scheme://host:port in lower case with the default port
// filled in, so that https://h and https://H:443 compare equal.
func originOf(u *url.URL) string {
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

// redactURL renders scheme://host/path: the query may carry api-version,
// paging state or (on a resultUrl) a signature, and is never printed.
func redactURL(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}).String()
}

// budgetPolicy waits for the shared rate budget before every try.
type budgetPolicy struct {
	budget *RateBudget
	origin string
}

func (p budgetPolicy) Do(req *policy.Request) (*http.Response, error) {
	m := req.Raw().Method
	write := m != http.MethodGet && m != http.MethodHead
	if err := p.budget.Wait(req.Raw().Context(), p.origin, write); err != nil {
		return nil, fmt.Errorf("waiting for the rate budget: %w", err)
	}
	return req.Next()
}

// MaxRetryAfter is the longest Retry-After the client waits for. A longer
// one (a quota exhausted for hours) pauses the host this long, and the
// request fails at once with the 429 and its RetryAfter instead of hanging.
const MaxRetryAfter = 5 * time.Minute

// retryAfterHeader carries a Retry-After that throttlePolicy took over, so
// that the final error can still report it.
const retryAfterHeader = "X-Langsync-Retry-After-Ms"

// throttlePolicy moves the service's Retry-After on a 429 or 503 into the
// shared budget: the host is paused for every client of the process, and the
// next try (of this request or any other) waits in budgetPolicy. The header
// is then removed so that azcore's retry policy applies its own capped
// backoff instead of sleeping the Retry-After a second time (or giving up
// when it exceeds MaxRetryDelay). The budget's clock is injectable, which
// keeps tests of long Retry-After values instant.
type throttlePolicy struct {
	budget *RateBudget
	origin string
}

func (p throttlePolicy) Do(req *policy.Request) (*http.Response, error) {
	resp, err := req.Next()
	if err != nil || (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) {
		return resp, err
	}
	if d, ok := parseRetryAfter(resp.Header, p.budget.now()); ok {
		p.budget.Pause(p.origin, p.budget.now().Add(min(d, MaxRetryAfter)))
		resp.Header.Set(retryAfterHeader, strconv.FormatInt(d.Milliseconds(), 10))
		resp.Header.Del("Retry-After")
		resp.Header.Del("Retry-After-Ms")
		resp.Header.Del("X-Ms-Retry-After-Ms")
	}
	return resp, nil
}

// parseRetryAfter reads retry-after-ms, x-ms-retry-after-ms or Retry-After
// (seconds or an HTTP date).
func parseRetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	for _, k := range []string{retryAfterHeader, "Retry-After-Ms", "X-Ms-Retry-After-Ms"} {
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

// logPolicy writes one line per try: debug for answers, warn for 429, 5xx
// and transport failures. It logs method, URL without the query, status,
// request id and duration; never headers or bodies.
type logPolicy struct{ logger *slog.Logger }

func (p logPolicy) Do(req *policy.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := req.Next()
	attrs := []any{"method", req.Raw().Method, "url", redactURL(req.Raw().URL), "elapsed", time.Since(start).Round(time.Millisecond)}
	if err != nil {
		p.logger.WarnContext(req.Raw().Context(), "authoring request failed", append(attrs, "err", sanitizeErr(err))...)
		return resp, err
	}
	attrs = append(attrs, "status", resp.StatusCode)
	if id := resp.Header.Get("Apim-Request-Id"); id != "" {
		attrs = append(attrs, "requestID", id)
	}
	if ra := resp.Header.Get(retryAfterHeader); ra != "" {
		attrs = append(attrs, "retryAfterMs", ra)
	}
	level := slog.LevelDebug
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= http.StatusInternalServerError {
		level = slog.LevelWarn // throttling and server errors are worth seeing
	}
	p.logger.Log(req.Raw().Context(), level, "authoring request", attrs...)
	return resp, err
}

// sentError marks a transport error that happened after the whole request
// had been written: the service may have acted on it.
type sentError struct{ err error }

func (e *sentError) Error() string { return e.err.Error() }
func (e *sentError) Unwrap() error { return e.err }

// reqOptions are per-request settings read by sendPolicy.
type reqOptions struct {
	tryTimeout time.Duration
	stream     bool
}

// sendPolicy is the innermost policy. It bounds each try with a timeout
// (kept here rather than in azcore's TryTimeout so that time spent waiting
// for the rate budget does not count against the request), and records with
// an httptrace whether the request was completely written, marking later
// failures with sentError.
type sendPolicy struct{ tryTimeout time.Duration }

func (p sendPolicy) Do(req *policy.Request) (*http.Response, error) {
	var ro reqOptions
	req.OperationValue(&ro)
	timeout := p.tryTimeout
	if ro.tryTimeout > 0 {
		timeout = ro.tryTimeout
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
	resp, err := req.WithContext(ctx).Next()
	if err != nil {
		cancel()
		if !answered.Load() && req.Raw().Context().Err() == nil && connectionFailure(err) {
			err = &noAnswerError{err}
		}
		if written.Load() {
			return resp, &sentError{err}
		}
		return resp, err
	}
	if ro.stream && resp.StatusCode < http.StatusBadRequest {
		// The body is read by the caller: cancel when it is closed.
		resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	} else {
		// azcore's body download policy has buffered the body already.
		cancel()
	}
	return resp, nil
}

// noAnswerError marks a failure to reach the resource at all (see
// ErrUnreachable): no byte of an answer arrived.
type noAnswerError struct{ err error }

func (e *noAnswerError) Error() string { return e.err.Error() }
func (e *noAnswerError) Unwrap() error { return e.err }

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

// sanitizeErr strips the URL that net/http puts in its errors (it includes
// the query) and keeps the cause.
func sanitizeErr(err error) error {
	for {
		switch e := err.(type) {
		case *sentError:
			err = e.err
			continue
		case *noAnswerError:
			err = e.err
			continue
		case *url.Error:
			err = e.Err
			continue
		}
		return err
	}
}
