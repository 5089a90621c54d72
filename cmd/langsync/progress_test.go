package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// countLine draws on a terminal only, at most every 200 ms, and always
// the last item.
func TestCountLine(t *testing.T) {
	var b bytes.Buffer
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	c := &countLine{w: &b, tty: true, what: "classify: texts", total: 5000, start: now, now: func() time.Time { return now }}
	c.update(0)
	now = now.Add(100 * time.Millisecond)
	c.update(100) // too soon: not drawn
	now = now.Add(3100 * time.Millisecond)
	c.update(1200)
	c.update(5000) // the last one is drawn at once
	c.finish()
	got := b.String()
	for _, want := range []string{"\r\x1b[Kclassify: texts 0 of 5000 (0%), 0s", "\r\x1b[Kclassify: texts 1200 of 5000 (24%), 3.2s", "5000 of 5000 (100%)"} {
		if !strings.Contains(got, want) {
			t.Errorf("output %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, " 100 of ") || !strings.HasSuffix(got, "\r\x1b[K") {
		t.Errorf("output %q: want no line within 200 ms, and a cleared line at the end", got)
	}
	var pipe bytes.Buffer
	p := newCountLine(&pipe, "x", 3)
	p.update(1)
	p.finish()
	if pipe.Len() != 0 {
		t.Errorf("not a terminal, but wrote %q", pipe.String())
	}
}
