package queue_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/queue"
	"github.com/langsync/langsync/shared/queue/queuetest"
)

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

func TestMemoryContract(t *testing.T) {
	queuetest.Run(t, func(t *testing.T) *queuetest.Harness {
		clock := queuetest.NewFakeClock(t0)
		m := queue.NewMemory(&queue.MemoryOptions{Clock: clock})
		t.Cleanup(func() { m.Close(context.Background()) })
		return &queuetest.Harness{
			Sender:  m,
			Receive: func(ctx context.Context, q string) (queue.Message, error) { return m.Receive(ctx, q) },
			Counts:  m.Len,
			Now:     clock.Now,
			Advance: clock.Advance,
		}
	})
}

// A Receive waiting for a scheduled message wakes when the clock reaches it.
func TestMemoryReceiveWaitsForSchedule(t *testing.T) {
	clock := queuetest.NewFakeClock(t0)
	m := queue.NewMemory(&queue.MemoryOptions{Clock: clock})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Schedule(ctx, langsync.QueueTrain, []byte("x"), "r/train/1", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got := make(chan queue.Message, 1)
	go func() {
		msg, err := m.Receive(ctx) // all queues
		if err != nil {
			t.Errorf("Receive: %v", err)
		}
		got <- msg
	}()
	// Advance until the receiver has registered its timer and been woken.
	for {
		clock.Advance(time.Hour)
		select {
		case msg := <-got:
			if msg.MessageID != "r/train/1" || msg.Queue != langsync.QueueTrain {
				t.Fatalf("got %+v", msg)
			}
			return
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal("Receive never returned")
		}
	}
}

func TestMemoryReceiveEndsOnCancelAndClose(t *testing.T) {
	m := queue.NewMemory(nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Receive(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Receive with a cancelled context = %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := m.Receive(context.Background(), langsync.QueueExport)
		done <- err
	}()
	m.Close(context.Background())
	if err := <-done; !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("Receive after Close = %v, want ErrClosed", err)
	}
	if _, err := m.Receive(context.Background(), "nope"); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("Receive on a closed queue = %v", err)
	}
}
