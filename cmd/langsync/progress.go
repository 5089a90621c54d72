package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/langsync/langsync/shared/authoring"
	"github.com/langsync/langsync/shared/langsync"
)

// progress prints the state of a job being waited for: on a terminal one
// line rewritten in place, elsewhere (logs, tests) a new line whenever the
// status or percentage changes. Each line gives the job kind, status,
// percentage (when the service reports one) and elapsed time.
type progress struct {
	w       io.Writer
	tty     bool
	kind    langsync.JobKind
	start   time.Time
	now     func() time.Time
	last    string
	printed bool
}

func newProgress(w io.Writer, kind langsync.JobKind, start time.Time) *progress {
	p := &progress{w: w, kind: kind, start: start, now: time.Now}
	if p.start.IsZero() {
		p.start = p.now()
	}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// update is the progress callback of authoring.Client.Wait.
func (p *progress) update(st *authoring.JobState) {
	state := fmt.Sprintf("%s %s", p.kind, st.Status)
	if pct := st.Percent(); pct >= 0 {
		state += fmt.Sprintf(" %d%%", pct)
	}
	line := fmt.Sprintf("%s %s", state, p.now().Sub(p.start).Round(100*time.Millisecond))
	switch {
	case p.tty:
		fmt.Fprintf(p.w, "\r\x1b[K%s", line)
	case state != p.last:
		fmt.Fprintln(p.w, line)
	}
	p.last = state
	p.printed = true
}

// finish ends the in-place line on a terminal.
func (p *progress) finish() {
	if p.tty && p.printed {
		fmt.Fprintln(p.w)
	}
}

// countLine shows how far a long loop has come ("classify: 1200 of 5000
// texts, 3.2s") on a terminal only, as one line rewritten in place at most
// every 200 ms; on a pipe or in a log it prints nothing, so the output a
// script reads is unchanged.
type countLine struct {
	w     io.Writer
	tty   bool
	what  string
	total int
	start time.Time
	shown time.Time
	now   func() time.Time
	drawn bool
}

func newCountLine(w io.Writer, what string, total int) *countLine {
	c := &countLine{w: w, what: what, total: total, now: time.Now}
	c.start = c.now()
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			c.tty = true
		}
	}
	return c
}

// line is the text shown after done items.
func (c *countLine) line(done int) string {
	return fmt.Sprintf("%s %d of %d (%d%%), %s", c.what, done, c.total, done*100/max(c.total, 1), c.now().Sub(c.start).Round(100*time.Millisecond))
}

// update shows done items of total.
func (c *countLine) update(done int) {
	if !c.tty || (c.drawn && c.now().Sub(c.shown) < 200*time.Millisecond && done < c.total) {
		return
	}
	fmt.Fprintf(c.w, "\r\x1b[K%s", c.line(done))
	c.shown, c.drawn = c.now(), true
}

// finish clears the line, so what follows starts at column 0.
func (c *countLine) finish() {
	if c.tty && c.drawn {
		fmt.Fprint(c.w, "\r\x1b[K")
	}
}
