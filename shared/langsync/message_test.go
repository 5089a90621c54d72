package langsync_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/langsync/langsync/shared/langsync"
)

func TestParseMessage(t *testing.T) {
	tests := []struct {
		name, queue, body string
		wantKind          string
		wantErr           string // substring; empty means valid
	}{
		{"Wakeup", "langsync-train", `{"v":1,"run":"r1","step":"train","seq":7}`, "wakeup", ""},
		{"WakeupAnyQueue", "langsync-export", `{"v":1,"run":"r1","step":"backup","seq":2}`, "wakeup", ""},
		{"Replicate", "langsync-export", `{"project":"Tickets"}`, "replicate", ""},
		{"ReplicateFull", "langsync-export", `{"project":"Tickets","source":"primary","targets":["secondary","third"]}`, "replicate", ""},
		{"RestoreBackup", "langsync-import", `{"backup":"primary/Tickets/20261120T020000Z-0123456789ab.tar.gz","target":"secondary"}`, "restore", ""},
		{"RestoreAt", "langsync-import", `{"project":"Tickets","at":"2026-11-20T00:00:00Z","target":"secondary","as":"T2"}`, "restore", ""},
		{"RestoreReplace", "langsync-import", `{"backup":"b.tar.gz","target":"secondary","replace":true}`, "restore", ""},
		{"Empty", "langsync-export", ``, "", "empty body"},
		{"NotJSON", "langsync-export", `hello`, "", "not a JSON object"},
		{"Array", "langsync-export", `[1]`, "", "not a JSON object"},
		{"Null", "langsync-export", `null`, "", "not a JSON object"},
		{"UnknownVersion", "langsync-train", `{"v":2,"run":"r1","step":"train","seq":7}`, "", "schema version 2 is unknown"},
		{"NoRun", "langsync-train", `{"v":1,"step":"train","seq":7}`, "", "no run id"},
		{"UnknownStep", "langsync-train", `{"v":1,"run":"r1","step":"dance","seq":7}`, "", `unknown step "dance"`},
		{"ExtraField", "langsync-train", `{"v":1,"run":"r1","step":"train","seq":7,"x":1}`, "", `unknown field "x"`},
		{"ReplicateOnImport", "langsync-import", `{"project":"Tickets"}`, "", `no "at" time`},
		{"ReplicateOnTrain", "langsync-train", `{"project":"Tickets"}`, "", "unknown message on langsync-train"},
		{"TypoTarget", "langsync-export", `{"project":"Tickets","target":"secondary"}`, "", `unknown field "target"`},
		{"BadProject", "langsync-export", `{"project":"a/b"}`, "", "not a valid project name"},
		{"RestoreNoTarget", "langsync-import", `{"backup":"x.tar.gz"}`, "", `no "target"`},
		{"RestoreBoth", "langsync-import", `{"backup":"x","project":"P","at":"2026-11-20T00:00:00Z","target":"s"}`, "", "both a backup and a project"},
		{"RestoreBadTime", "langsync-import", `{"project":"P","at":"yesterday","target":"s"}`, "", "restore request"},
		{"Trailing", "langsync-export", `{"project":"P"} {}`, "", "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := langsync.ParseMessage(tt.queue, []byte(tt.body))
			if tt.wantErr == "" {
				if err != nil || m.Kind() != tt.wantKind {
					t.Fatalf("kind=%s err=%v, want %s", m.Kind(), err, tt.wantKind)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err=%v, want one containing %q", err, tt.wantErr)
			}
			if !errors.Is(err, langsync.ErrMalformed) || !langsync.IsPermanent(err) {
				t.Fatalf("err=%v is not ErrMalformed/permanent", err)
			}
		})
	}
}
