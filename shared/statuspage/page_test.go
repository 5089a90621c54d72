package statuspage

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/pipeline"
)

func TestRender(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	p := Page{
		Generated: now,
		MaxLag:    26 * time.Hour,
		Pairs: []pipeline.PairStatus{
			{Pair: langsync.Pair{Source: "primary", Project: "Tickets", Target: "secondary"}, LastReplicated: now.Add(-time.Hour), Fingerprint: "9cedf5f3ebcb0011", LastRun: "r1", LastRunPhase: langsync.RunSucceeded},
			{Pair: langsync.Pair{Source: "primary", Project: "Tickets", Target: "tertiary"}, Lag: 30 * time.Hour, LastError: "train failed: <script>alert(1)</script>",
				ActiveRun:      &pipeline.RunSummary{ID: "r2", Step: "train/tertiary", Percent: 40, Started: now.Add(-3*time.Minute - 12*time.Second)},
				ExpiryWarnings: []string{"target tertiary/Tickets: deployment production (model m1) expires 2026-12-20 (in 14 days)"},
				Alerts:         []pipeline.Alert{{Kind: pipeline.AlertLag, Message: "target has lacked the source's newest change for 30h0m0s"}}},
		},
		History: []Sample{{At: now.Add(-2 * time.Hour), Lag: map[string]float64{"primary/Tickets -> tertiary": 3600}}, {At: now, Lag: map[string]float64{"primary/Tickets -> tertiary": 108000}}},
		Backups: []time.Time{now.Add(-5 * time.Hour), now.Add(-time.Hour)},
	}
	var b bytes.Buffer
	if err := Render(&b, p); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, w := range []string{
		"2 pairs: 1 in sync, 1 alerting.",
		"primary/Tickets -&gt; secondary", "9cedf5f3ebcb<", "2026-12-06 11:00:00 UTC",
		"r2</code>: step train/tertiary (40%), running for 3m12s",
		"Alert (lag): target has lacked", "expires 2026-12-20 (in 14 days)", "<dd>30h00m</dd>",
		"&lt;script&gt;", "<svg", "backups (2)", "max lag 26h00m", "<polyline",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("page lacks %q", w)
		}
	}
	for _, bad := range []string{"<script", "src=", "http://", "https://", "@import"} {
		if strings.Contains(out, bad) {
			t.Errorf("page has %q: it must be self-contained and script-free", bad)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
}

func TestHuman(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0s", 42 * time.Second: "42s", 192 * time.Second: "3m12s", 5*time.Hour + 3*time.Minute: "5h03m", 52 * time.Hour: "2d04h"} {
		if got := human(d); got != want {
			t.Errorf("human(%v) = %q, want %q", d, got, want)
		}
	}
}
