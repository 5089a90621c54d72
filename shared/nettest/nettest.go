// Package nettest has network stand-ins for tests of what a client does
// when the other end misbehaves.
package nettest

import (
	"net"
	"sync"
	"testing"
	"time"
)

// Silent is a loopback TCP listener that accepts every connection and
// never reads or writes on it: an endpoint that "does not answer".
type Silent struct {
	// Addr is host:port to point a client at.
	Addr     string
	accepted chan struct{}
}

// NewSilent starts a Silent listener, closed with its connections when the
// test ends.
func NewSilent(t testing.TB) *Silent {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("nettest: listen: %v", err)
	}
	s := &Silent{Addr: ln.Addr().String(), accepted: make(chan struct{}, 1024)}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			select {
			case s.accepted <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return s
}

// WaitAccepted waits until n connections (in all) have been accepted, and
// fails the test if that takes longer than a minute.
func (s *Silent) WaitAccepted(t testing.TB, n int) {
	t.Helper()
	timeout := time.NewTimer(time.Minute)
	defer timeout.Stop()
	for i := 0; i < n; i++ {
		select {
		case <-s.accepted:
		case <-timeout.C:
			t.Fatalf("nettest: %d of %d connections accepted after a minute", i, n)
		}
	}
}

// Refused returns a loopback host:port where nothing listens (a port that
// was just free), so that dialling it is refused.
func Refused(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("nettest: listen: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
