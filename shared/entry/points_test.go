package entry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/pipeline"
)

// memRunState is an in-memory run state store with ETags.
type memRunState struct {
	docs  map[string][]byte
	etags map[string]string
	n     int
}

func (m *memRunState) Get(_ context.Context, key string) ([]byte, string, error) {
	d, ok := m.docs[key]
	if !ok {
		return nil, "", pipeline.ErrNotFound
	}
	return d, m.etags[key], nil
}

func (m *memRunState) Put(_ context.Context, key string, data []byte, cond pipeline.Condition) (string, error) {
	if cond.IfMatch != "" && m.etags[key] != cond.IfMatch {
		return "", pipeline.ErrConflict
	}
	m.n++
	m.docs[key] = data
	m.etags[key] = string(rune('a' + m.n))
	return m.etags[key], nil
}

func TestPointsFail(t *testing.T) {
	now := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	put := func(m *memRunState, r langsync.Run) {
		b, _ := json.Marshal(&r)
		m.docs[langsync.RunKey(r.ID)] = b
		m.etags[langsync.RunKey(r.ID)] = "e0"
	}
	tests := []struct {
		name      string
		run       *langsync.Run
		wantPhase langsync.RunPhase
		wantErr   string
	}{
		{"Running", &langsync.Run{ID: "r1", Phase: langsync.RunRunning, NextAt: now}, langsync.RunFailed, "input could not be processed: bad wake-up"},
		{"Finished", &langsync.Run{ID: "r1", Phase: langsync.RunSucceeded}, langsync.RunSucceeded, ""},
		{"Missing", nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &memRunState{docs: map[string][]byte{}, etags: map[string]string{}}
			if tt.run != nil {
				put(m, *tt.run)
			}
			e := New(Options{State: m, Now: func() time.Time { return now }})
			if err := e.Fail(context.Background(), "r1", "bad wake-up"); err != nil {
				t.Fatal(err)
			}
			if tt.run == nil {
				if len(m.docs) != 0 {
					t.Fatalf("created %v for a missing run", m.docs)
				}
				return
			}
			var got langsync.Run
			if err := json.Unmarshal(m.docs[langsync.RunKey("r1")], &got); err != nil {
				t.Fatal(err)
			}
			if got.Phase != tt.wantPhase || got.Error != tt.wantErr {
				t.Fatalf("run phase %q error %q, want %q %q", got.Phase, got.Error, tt.wantPhase, tt.wantErr)
			}
			if tt.wantPhase == langsync.RunFailed && (!got.Ended.Equal(now) || !got.NextAt.IsZero()) {
				t.Fatalf("failed run ended %v nextAt %v", got.Ended, got.NextAt)
			}
		})
	}
}

func TestWakesDropsFinishedAndStale(t *testing.T) {
	at := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	got := wakes(
		pipeline.Next{Wakeup: langsync.Wakeup{Run: "a", Step: langsync.StepTrain, Seq: 3}, At: at, Phase: langsync.RunRunning},
		pipeline.Next{Wakeup: langsync.Wakeup{Run: "b"}, Done: true, Phase: langsync.RunSucceeded},
		pipeline.Next{Wakeup: langsync.Wakeup{Run: "c"}, Stale: true},
		pipeline.Next{Wakeup: langsync.Wakeup{Run: "d", Step: langsync.StepVerify}, Phase: langsync.RunFailed},
	)
	if len(got) != 1 || got[0].Run != "a" || got[0].Step != "train" || got[0].Seq != 3 || !got[0].At.Equal(at) {
		t.Fatalf("wakes %+v, want only run a's train wake-up", got)
	}
}

// The Next that ends a run may carry the first wake-up of the run its end
// started (requests that came too late for it): that one is sent.
func TestWakesSendsTheFollowUpOfAnEndedRun(t *testing.T) {
	at := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	follow := pipeline.Next{Wakeup: langsync.Wakeup{Run: "b2", Step: langsync.StepInspect, Seq: 1}, At: at, Phase: langsync.RunRunning}
	got := wakes(pipeline.Next{Wakeup: langsync.Wakeup{Run: "b"}, Done: true, Phase: langsync.RunSucceeded, Follow: &follow})
	if len(got) != 1 || got[0].Run != "b2" || got[0].Step != "inspect" || got[0].Seq != 1 || !got[0].At.Equal(at) {
		t.Fatalf("wakes %+v, want the follow-up run's inspect wake-up only", got)
	}
}

// Without a restorer, a restore request is refused as permanent (kept, not
// retried).
func TestRestoreUnavailableIsPermanent(t *testing.T) {
	_, err := New(Options{}).Restore(context.Background(), langsync.RestoreRequest{Backup: "b", Target: "t"})
	if !errors.Is(err, errRestoreUnavailable) || !IsPermanent(err) || !langsync.IsPermanent(err) {
		t.Fatalf("err=%v, want the permanent errRestoreUnavailable", err)
	}
}

func TestIsPermanent(t *testing.T) {
	for _, err := range []error{pipeline.ErrNotFound, pipeline.ErrCorrupt, pipeline.ErrUnknownProject, langsync.ErrMalformed, fmt.Errorf("x: %w", pipeline.ErrCorrupt)} {
		if !IsPermanent(err) {
			t.Errorf("IsPermanent(%v) = false", err)
		}
	}
	for _, err := range []error{errors.New("timeout"), pipeline.ErrConflict} {
		if IsPermanent(err) {
			t.Errorf("IsPermanent(%v) = true", err)
		}
	}
}
