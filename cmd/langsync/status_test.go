package main

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestStatusErrorCell: a long or multi-line error is cut to one short line
// in the table, and printed whole below it.
func TestStatusErrorCell(t *testing.T) {
	long := "authoring: import job failed: " + strings.Repeat("the service said something long ", 10)
	tests := []struct {
		in, want string
	}{
		{"-", "-"},
		{"short error", "short error"},
		{"two\nlines", "two lines"},
		{long, string([]rune(long)[:statusErrorMax]) + "…"},
	}
	for _, tt := range tests {
		got := statusErrorCell(tt.in)
		if got != tt.want || utf8.RuneCountInString(got) > statusErrorMax+1 {
			t.Errorf("statusErrorCell(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	var buf bytes.Buffer
	printFullErrors(&buf, []string{"Tickets primary->secondary: " + oneLine(long)})
	if out := buf.String(); !strings.Contains(out, oneLine(long)) || !strings.Contains(out, "status --json") {
		t.Errorf("full errors:\n%s", out)
	}
	buf.Reset()
	printFullErrors(&buf, nil)
	if buf.Len() != 0 {
		t.Errorf("no errors printed %q", buf.String())
	}
}
