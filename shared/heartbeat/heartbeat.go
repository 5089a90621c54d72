// Package heartbeat pings a dead-man's switch after each scheduled sync,
// with the healthchecks.io convention most monitoring services accept:
// a request to the check's URL says "all well", one to URL + "/fail" says
// "something is wrong", with a short reason as the body
// (docs/observability.md#heartbeat). The URL usually holds the check's
// token, so no error or log line carries more of it than scheme and host.
package heartbeat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// MaxReason caps the reason sent with a failure: a one-line summary.
const MaxReason = 500

// Pinger pings one check URL.
type Pinger struct {
	url    string
	client *http.Client
	// Tries and Backoff: a ping that gets no 2xx is tried again (default
	// 3 tries, 2s apart): a monitor that misses a success alerts.
	Tries   int
	Backoff time.Duration
}

// New returns a Pinger for rawURL (validated by shared/config); client nil
// means a client with a 10 s timeout.
func New(rawURL string, client *http.Client) *Pinger {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &Pinger{url: strings.TrimRight(strings.TrimSpace(rawURL), "/"), client: client, Tries: 3, Backoff: 2 * time.Second}
}

// Where is the check's scheme and host, safe to log.
func (p *Pinger) Where() string {
	u, err := url.Parse(p.url)
	if err != nil {
		return "the heartbeat URL"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// Beat pings the check: success when ok, URL + "/fail" with reason
// otherwise. The error names only scheme and host.
func (p *Pinger) Beat(ctx context.Context, ok bool, reason string) error {
	target, body := p.url, ""
	if !ok {
		target, body = p.url+"/fail", oneLine(reason)
	}
	var last error
	for try := 1; try <= max(p.Tries, 1); try++ {
		if try > 1 {
			t := time.NewTimer(p.Backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("heartbeat to %s: %w", p.Where(), ctx.Err())
			case <-t.C:
			}
		}
		if last = p.send(ctx, target, body); last == nil {
			return nil
		}
	}
	return last
}

func (p *Pinger) send(ctx context.Context, target, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("heartbeat to %s: building the request failed", p.Where())
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	req.Header.Set("User-Agent", "langsync-heartbeat")
	resp, err := p.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			// url.Error prints the whole URL, token included.
			err = ue.Err
		}
		return fmt.Errorf("heartbeat to %s: %w", p.Where(), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("heartbeat to %s: answered %s (check the URL in heartbeat.url)", p.Where(), resp.Status)
	}
	return nil
}

// oneLine makes reason one line of at most MaxReason bytes.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > MaxReason {
		s = s[:MaxReason-3] + "..."
	}
	return s
}
