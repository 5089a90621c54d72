package predict

import (
	"fmt"
	"strings"
	"time"
)

// State is a snapshot of the client for logs, metrics and status pages.
type State struct {
	// Active names the endpoint new requests go to: the first one whose
	// breaker is closed. Empty when every breaker is open.
	Active string `json:"active"`
	// OnPrimary is true when the primary is active.
	OnPrimary bool `json:"onPrimary"`
	// Reason says why Active is the active endpoint.
	Reason string `json:"reason"`
	// Since is when Active became active.
	Since time.Time `json:"since"`
	// Failovers counts moves to a lower-priority endpoint, Failbacks moves
	// back to a higher-priority one.
	Failovers int `json:"failovers"`
	Failbacks int `json:"failbacks"`
	// Endpoints in priority order.
	Endpoints []EndpointState `json:"endpoints"`
}

// EndpointState is one endpoint's breaker and counters.
type EndpointState struct {
	Name string `json:"name"`
	// URL is scheme://host.
	URL     string       `json:"url"`
	Breaker BreakerState `json:"breaker"`
	// Reason is why the breaker last changed state.
	Reason string `json:"reason,omitempty"`
	// ConsecutiveFailures, and RecentFailures of RecentRequests in the
	// ratio window, while closed.
	ConsecutiveFailures int `json:"consecutiveFailures"`
	RecentFailures      int `json:"recentFailures"`
	RecentRequests      int `json:"recentRequests"`
	// OpenedAt and NextProbe are set while the breaker is open.
	OpenedAt  time.Time `json:"openedAt,omitzero"`
	NextProbe time.Time `json:"nextProbe,omitzero"`
	// LastError is the last failure seen (never holds a credential).
	LastError string `json:"lastError,omitempty"`
	// Served, Failed and NotReplicated count requests since New.
	Served        int64 `json:"served"`
	Failed        int64 `json:"failed"`
	NotReplicated int64 `json:"notReplicated"`
}

// State returns a snapshot of the client's state.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := State{Since: c.activeSince, Failovers: c.failovers, Failbacks: c.failbacks}
	for _, e := range c.eps {
		b := e.br
		es := EndpointState{
			Name: e.name, URL: e.base.String(), Breaker: b.state, Reason: b.reason,
			ConsecutiveFailures: b.consecutive, RecentFailures: b.wfail, RecentRequests: b.wlen,
			LastError: b.lastErr, Served: e.served, Failed: e.failed, NotReplicated: e.notReplicated,
		}
		if b.state != BreakerClosed {
			es.OpenedAt, es.NextProbe = b.openedAt, b.nextProbe
		}
		s.Endpoints = append(s.Endpoints, es)
	}
	if c.active >= 0 {
		s.Active = c.eps[c.active].name
		s.OnPrimary = c.active == 0
	}
	s.Reason = c.reasonLocked()
	return s
}

func (c *Client) reasonLocked() string {
	if c.active == 0 {
		b := c.eps[0].br
		switch {
		case b.consecutive > 0 || b.wfail > 0:
			return fmt.Sprintf("%s is active but failing: %d consecutive failed request%s, %d of the last %d (last error: %s)",
				c.eps[0].name, b.consecutive, plural(b.consecutive), b.wfail, b.wlen, b.lastErr)
		case b.reason != "":
			return fmt.Sprintf("%s is healthy (%s)", c.eps[0].name, b.reason)
		}
		return c.eps[0].name + " is healthy"
	}
	var parts []string
	for i, e := range c.eps {
		if i == c.active {
			break
		}
		parts = append(parts, fmt.Sprintf("%s is %s since %s: %s (last error: %s; next probe at %s)",
			e.name, e.br.state, e.br.openedAt.UTC().Format(time.RFC3339), e.br.reason, e.br.lastErr,
			e.br.nextProbe.UTC().Format(time.RFC3339)))
	}
	if c.active < 0 {
		return "every endpoint is unavailable: " + strings.Join(parts, "; ")
	}
	return "serving from " + c.eps[c.active].name + " because " + strings.Join(parts, "; ")
}
