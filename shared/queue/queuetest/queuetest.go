package queuetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/queue"
)

// Harness is one implementation under test plus the means to look behind it.
type Harness struct {
	// Sender is the implementation under test.
	Sender queue.Sender
	// Receive takes the next due message from a queue, waiting until ctx ends.
	Receive func(ctx context.Context, queueName string) (queue.Message, error)
	// Counts reports how many messages on a queue are due now and how many
	// are scheduled for later.
	Counts func(queueName string) (due, scheduled int)
	// Now and Advance read and move the clock the implementation uses.
	Now     func() time.Time
	Advance func(time.Duration)
}

// Run runs the contract suite; newHarness gives each subtest a fresh,
// empty set of langsync queues with duplicate detection on (10 min window).
func Run(t *testing.T, newHarness func(t *testing.T) *Harness) {
	t.Run("SendReceiveWakeup", func(t *testing.T) {
		h := newHarness(t)
		w := langsync.Wakeup{Run: "r-20261120-abc", Step: "train", Seq: 7}
		if err := queue.SendWakeup(ctx(t), h.Sender, langsync.QueueTrain, w, time.Time{}); err != nil {
			t.Fatalf("SendWakeup: %v", err)
		}
		m := receive(t, h, langsync.QueueTrain)
		if m.MessageID != "r-20261120-abc/train/7" {
			t.Errorf("MessageID = %q, want r-20261120-abc/train/7", m.MessageID)
		}
		if string(m.Body) != `{"v":1,"run":"r-20261120-abc","step":"train","seq":7}` {
			t.Errorf("body = %s", m.Body)
		}
		got, err := queue.ParseWakeup(m.Body)
		if err != nil || got != (langsync.Wakeup{V: 1, Run: w.Run, Step: w.Step, Seq: w.Seq}) {
			t.Errorf("ParseWakeup = %+v, %v", got, err)
		}
	})
	t.Run("OrderKept", func(t *testing.T) {
		h := newHarness(t)
		for i := range 3 {
			send(t, h, langsync.QueueExport, fmt.Sprintf("m%d", i), fmt.Sprintf("id-%d", i))
		}
		for i := range 3 {
			if m := receive(t, h, langsync.QueueExport); string(m.Body) != fmt.Sprintf("m%d", i) {
				t.Fatalf("message %d: body %q", i, m.Body)
			}
		}
	})
	t.Run("DuplicateMessageIDDropped", func(t *testing.T) {
		h := newHarness(t)
		send(t, h, langsync.QueueDeploy, "first", "run/deploy/1")
		send(t, h, langsync.QueueDeploy, "second", "run/deploy/1") // succeeds, dropped
		if err := h.Sender.Schedule(ctx(t), langsync.QueueDeploy, []byte("third"), "run/deploy/1", h.Now().Add(time.Minute)); err != nil {
			t.Fatalf("Schedule duplicate: %v", err)
		}
		if due, sched := h.Counts(langsync.QueueDeploy); due != 1 || sched != 0 {
			t.Fatalf("counts = %d due %d scheduled, want 1 due", due, sched)
		}
		if m := receive(t, h, langsync.QueueDeploy); string(m.Body) != "first" {
			t.Fatalf("got %q, want first", m.Body)
		}
		h.Advance(11 * time.Minute) // past the duplicate-detection window
		send(t, h, langsync.QueueDeploy, "again", "run/deploy/1")
		if due, _ := h.Counts(langsync.QueueDeploy); due != 1 {
			t.Fatalf("after the window: %d due, want 1", due)
		}
	})
	t.Run("ScheduleFuture", func(t *testing.T) {
		h := newHarness(t)
		at := h.Now().Add(30 * time.Minute)
		if err := h.Sender.Schedule(ctx(t), langsync.QueueTrain, []byte("later"), "run/train/2", at); err != nil {
			t.Fatalf("Schedule: %v", err)
		}
		send(t, h, langsync.QueueTrain, "now", "run/train/1")
		if due, sched := h.Counts(langsync.QueueTrain); due != 1 || sched != 1 {
			t.Fatalf("counts = %d due %d scheduled, want 1 and 1", due, sched)
		}
		if m := receive(t, h, langsync.QueueTrain); string(m.Body) != "now" {
			t.Fatalf("got %q before the schedule time, want now", m.Body)
		}
		h.Advance(29 * time.Minute)
		if due, _ := h.Counts(langsync.QueueTrain); due != 0 {
			t.Fatalf("scheduled message visible a minute early")
		}
		h.Advance(time.Minute)
		if m := receive(t, h, langsync.QueueTrain); string(m.Body) != "later" || m.MessageID != "run/train/2" {
			t.Fatalf("got %q (%s), want later", m.Body, m.MessageID)
		}
	})
	t.Run("SchedulePastSendsNow", func(t *testing.T) {
		h := newHarness(t)
		if err := h.Sender.Schedule(ctx(t), langsync.QueueImport, []byte("x"), "run/import/1", h.Now().Add(-time.Hour)); err != nil {
			t.Fatalf("Schedule: %v", err)
		}
		if due, _ := h.Counts(langsync.QueueImport); due != 1 {
			t.Fatalf("a past schedule time is not due at once (%d due)", due)
		}
	})
	t.Run("InvalidArguments", func(t *testing.T) {
		h := newHarness(t)
		tests := []struct {
			name, queue, id string
			want            error
		}{
			{"empty message id", langsync.QueueExport, "", queue.ErrInvalid},
			{"empty queue", "", "id", queue.ErrInvalid},
			{"long message id", langsync.QueueExport, string(make([]byte, 129)), queue.ErrInvalid},
			{"unknown queue", "langsync-nope", "id", queue.ErrUnknownQueue},
		}
		for _, tt := range tests {
			err := h.Sender.Send(ctx(t), tt.queue, []byte("x"), tt.id)
			if !errors.Is(err, tt.want) {
				t.Errorf("%s: Send = %v, want %v", tt.name, err, tt.want)
			}
			err = h.Sender.Schedule(ctx(t), tt.queue, []byte("x"), tt.id, h.Now().Add(time.Hour))
			if !errors.Is(err, tt.want) {
				t.Errorf("%s: Schedule = %v, want %v", tt.name, err, tt.want)
			}
		}
		// A good send still works after the refusals.
		send(t, h, langsync.QueueExport, "ok", "ok-1")
		if m := receive(t, h, langsync.QueueExport); string(m.Body) != "ok" {
			t.Fatalf("got %q", m.Body)
		}
	})
	t.Run("ConcurrentSends", func(t *testing.T) {
		h := newHarness(t)
		const n = 12
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				q := langsync.Queues()[i%len(langsync.Queues())]
				errs <- h.Sender.Send(ctx(t), q, []byte("c"), fmt.Sprintf("c-%d", i))
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("concurrent Send: %v", err)
			}
		}
		total := 0
		for _, q := range langsync.Queues() {
			due, _ := h.Counts(q)
			total += due
		}
		if total != n {
			t.Fatalf("%d messages stored, want %d", total, n)
		}
	})
	t.Run("Closed", func(t *testing.T) {
		h := newHarness(t)
		if err := h.Sender.Close(ctx(t)); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := h.Sender.Send(ctx(t), langsync.QueueExport, []byte("x"), "id"); !errors.Is(err, queue.ErrClosed) {
			t.Fatalf("Send after Close = %v, want ErrClosed", err)
		}
		if err := h.Sender.Close(ctx(t)); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func send(t *testing.T, h *Harness, q, body, id string) {
	t.Helper()
	if err := h.Sender.Send(ctx(t), q, []byte(body), id); err != nil {
		t.Fatalf("Send(%s, %s): %v", q, id, err)
	}
}

func receive(t *testing.T, h *Harness, q string) queue.Message {
	t.Helper()
	m, err := h.Receive(ctx(t), q)
	if err != nil {
		t.Fatalf("Receive(%s): %v", q, err)
	}
	return m
}

// FakeClock is a queue.Clock that moves only when Advance is called.
type FakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// NewFakeClock returns a clock standing at t.
func NewFakeClock(t time.Time) *FakeClock { return &FakeClock{now: t} }

// Now returns the clock's time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After fires once the clock has been advanced by d.
func (c *FakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	at := c.now.Add(d)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{at, ch})
	return ch
}

// Advance moves the clock and fires the timers that are due.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			keep = append(keep, w)
		}
	}
	c.waiters = keep
}
