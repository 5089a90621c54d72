package entry

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/pipeline"
)

// captured decodes the JSON lines a slog JSON handler wrote.
func captured(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// eventDims are the attributes each event carries, besides time, level, msg
// and event (docs/observability.md#events).
var eventDims = map[string][]string{
	EventRunEnded:      {"run", "kind", "project", "source", "targets", "outcome", "lag_seconds"},
	EventSyncCompleted: {"decisions", "started", "swept", "wakes", "errors"},
	EventPairAlert:     {"kind", "source", "project", "target", "lag_seconds", "max_lag_seconds", "detail"},
}

func checkEvent(t *testing.T, got map[string]any, event, msg string, want map[string]any) {
	t.Helper()
	if got["event"] != event || got["msg"] != msg {
		t.Fatalf("event %v msg %v, want %s %q: %v", got["event"], got["msg"], event, msg, got)
	}
	for _, d := range eventDims[event] {
		if _, ok := got[d]; !ok {
			t.Errorf("%s lacks dimension %s: %v", event, d, got)
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s %s = %v (%T), want %v (%T)", event, k, got[k], got[k], v, v)
		}
	}
}

func TestEventsNamesAndDimensions(t *testing.T) {
	var buf bytes.Buffer
	created := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	e := New(Options{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	ctx := context.Background()
	e.runEnded(ctx, &langsync.Run{ID: "r1", Kind: langsync.RunReplicate, Source: "primary", Project: "Tickets",
		Pairs:   []langsync.Pair{{Source: "primary", Project: "Tickets", Target: "secondary"}, {Source: "primary", Project: "Tickets", Target: "third"}},
		Phase:   langsync.RunSucceeded,
		Created: created, Ended: created.Add(90 * time.Minute)})
	e.runEnded(ctx, &langsync.Run{ID: "r2", Kind: langsync.RunRestore, Project: "Tickets", Phase: langsync.RunFailed, Error: "boom",
		Created: created, Ended: created.Add(time.Minute)})
	e.runEnded(ctx, &langsync.Run{ID: "r3", Phase: langsync.RunRunning}) // not ended: no event
	e.syncCompleted(ctx, 3, 1, 2, 4, false)
	got := captured(t, &buf)
	if len(got) != 3 {
		t.Fatalf("%d lines, want 3: %v", len(got), got)
	}
	checkEvent(t, got[0], "langsync.run.ended", "run ended", map[string]any{
		"level": "INFO", "run": "r1", "kind": "replicate", "project": "Tickets", "source": "primary",
		"targets": "secondary,third", "outcome": "succeeded", "lag_seconds": float64(5400)})
	checkEvent(t, got[1], "langsync.run.ended", "run ended", map[string]any{
		"level": "ERROR", "run": "r2", "kind": "restore", "outcome": "failed", "lag_seconds": float64(0), "error": "boom"})
	checkEvent(t, got[2], "langsync.sync.completed", "sync completed", map[string]any{
		"decisions": float64(3), "started": float64(1), "swept": float64(2), "wakes": float64(4), "errors": float64(0)})
}

// One langsync.pair.alert per alert of each pair, none for a quiet pair.
func TestPairAlertEvents(t *testing.T) {
	var buf bytes.Buffer
	e := New(Options{Logger: slog.New(slog.NewJSONHandler(&buf, nil)), MaxLag: 26 * time.Hour})
	e.alertEvents(context.Background(), []pipeline.PairStatus{
		{Pair: langsync.Pair{Source: "primary", Project: "Tickets", Target: "secondary"}},
		{Pair: langsync.Pair{Source: "primary", Project: "Tickets", Target: "third"}, Lag: 30 * time.Hour, Alerts: []pipeline.Alert{
			{Kind: pipeline.AlertLag, Message: "lagging"}, {Kind: pipeline.AlertExpiry, Message: "model expires 2026-12-20"}}},
	})
	got := captured(t, &buf)
	if len(got) != 2 {
		t.Fatalf("%d lines, want 2: %v", len(got), got)
	}
	checkEvent(t, got[0], EventPairAlert, "pair alert", map[string]any{"level": "WARN", "kind": "lag", "source": "primary", "project": "Tickets", "target": "third",
		"lag_seconds": float64(108000), "max_lag_seconds": float64(93600), "detail": "lagging"})
	checkEvent(t, got[1], EventPairAlert, "pair alert", map[string]any{"kind": "expiry", "target": "third", "detail": "model expires 2026-12-20"})
}

// Fail, which ends a run because of a bad input, writes the event too.
func TestFailWritesRunEnded(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	m := &memRunState{docs: map[string][]byte{}, etags: map[string]string{}}
	b, _ := json.Marshal(&langsync.Run{ID: "r1", Kind: langsync.RunReplicate, Project: "Tickets", Phase: langsync.RunRunning, Created: now.Add(-time.Hour)})
	m.docs[langsync.RunKey("r1")], m.etags[langsync.RunKey("r1")] = b, "e0"
	e := New(Options{State: m, Now: func() time.Time { return now }, Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	if err := e.Fail(context.Background(), "r1", "bad wake-up"); err != nil {
		t.Fatal(err)
	}
	got := captured(t, &buf)
	if len(got) != 1 {
		t.Fatalf("%d lines, want 1: %v", len(got), got)
	}
	checkEvent(t, got[0], EventRunEnded, "run ended", map[string]any{"run": "r1", "outcome": "failed", "error": "input could not be processed: bad wake-up"})
}

// The names and attributes are the ones docs/observability.md#events
// defines (the alert rules are written against that page).
func TestEventsDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/observability.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "\n## Events")
	if i < 0 {
		t.Fatal("docs/observability.md has no Events section")
	}
	doc = doc[i:]
	names := []string{EventRunEnded, EventSyncCompleted, EventPairAlert}
	for ev := range eventDims {
		if !slices.Contains(names, ev) {
			t.Errorf("eventDims has %s, which is no event constant", ev)
		}
	}
	for _, ev := range names {
		if !strings.Contains(doc, "`"+ev+"`") {
			t.Errorf("docs/observability.md#events does not define %s", ev)
		}
		for _, d := range eventDims[ev] {
			if !strings.Contains(doc, "`"+d+"`") {
				t.Errorf("docs/observability.md#events does not name %s's attribute %s", ev, d)
			}
		}
	}
}
