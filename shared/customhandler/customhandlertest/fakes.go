package customhandlertest

import (
	"context"
	"sync"
	"time"

	"github.com/langsync/langsync/shared/customhandler"
)

// Sent is one message a Sender was asked to send.
type Sent struct {
	Queue     string
	Body      []byte
	MessageID string
	// At is the scheduled time; zero for an immediate send.
	At time.Time
}

// Sender records sends (customhandler.Sender). Err, when set, fails them.
type Sender struct {
	Err error

	mu   sync.Mutex
	sent []Sent
}

var _ customhandler.Sender = (*Sender)(nil)

// Send implements customhandler.Sender.
func (s *Sender) Send(_ context.Context, queue string, body []byte, id string) error {
	return s.add(Sent{Queue: queue, Body: append([]byte(nil), body...), MessageID: id})
}

// Schedule implements customhandler.Sender.
func (s *Sender) Schedule(_ context.Context, queue string, body []byte, id string, at time.Time) error {
	return s.add(Sent{Queue: queue, Body: append([]byte(nil), body...), MessageID: id, At: at})
}

func (s *Sender) add(m Sent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return s.Err
	}
	s.sent = append(s.sent, m)
	return nil
}

// Sent returns what was sent so far.
func (s *Sender) Sent() []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sent(nil), s.sent...)
}
