package langsync

import (
	"strings"
	"testing"
	"time"
)

func TestFailedKeyStaysUnderItsPrefix(t *testing.T) {
	at := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name, id, want string
	}{
		{"Plain", "msg-1.a_B", "msg-1.a_B"},
		{"PathEscape", "../../runs/x", ".._.._runs_x"},
		{"Spaces", "a b\tc", "a_b_c"},
		{"Long", strings.Repeat("x", 500), strings.Repeat("x", 120)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FailedKey(at, tt.id)
			want := FailedPrefix + at.Format(KeyTimeFormat) + "-" + tt.want + ".json"
			if got != want {
				t.Errorf("FailedKey(%q) = %q, want %q", tt.id, got, want)
			}
		})
	}
}
