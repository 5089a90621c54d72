package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/langsync/langsync/shared/sbemulator/sbemulatortest"
)

func TestEnqueueUsageErrors(t *testing.T) {
	env := map[string]string{"LANGSYNC_SERVICEBUS": "Endpoint=sb://127.0.0.1:1;SharedAccessKeyName=k;SharedAccessKey=SECRETKEY;UseDevelopmentEmulator=true"}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"NoRequest", env, []string{"enqueue"}, "which request"},
		{"UnknownRequest", env, []string{"enqueue", "purge"}, `unknown request "purge"`},
		{"NoProject", env, []string{"enqueue", "replicate"}, "project is empty"},
		{"BadProject", env, []string{"enqueue", "replicate", "--project", "a/b"}, "not a valid project name"},
		{"RestoreNothing", env, []string{"enqueue", "restore", "--target", "secondary"}, "names no backup"},
		{"RestoreBoth", env, []string{"enqueue", "restore", "--backup", "x", "--project", "P", "--at", "2026-11-20T00:00:00Z", "--target", "s"}, "both a backup and a project"},
		{"RestoreNoAt", env, []string{"enqueue", "restore", "--project", "P", "--target", "s"}, `no "at" time`},
		{"RestoreBadAt", env, []string{"enqueue", "restore", "--project", "P", "--at", "yesterday", "--target", "s"}, "not an RFC 3339 time (2026-11-20T00:00:00Z) or a date"},
		{"RestoreNoTarget", env, []string{"enqueue", "restore", "--backup", "x"}, "--target is required"},
		{"RestoreNoTargetBadAt", env, []string{"enqueue", "restore", "--project", "P", "--at", "2099-01-01"}, "--target is required"},
		// A date is read as by `restore --at`: parsed, so the next problem is reported.
		{"RestoreDateAt", env, []string{"enqueue", "restore", "--backup", "x", "--project", "P", "--at", "2099-01-01", "--target", "s"}, "both a backup and a project"},
		{"EmptyTargets", env, []string{"enqueue", "replicate", "--project", "P", "--targets", ",,"}, "empty name"},
		{"EmptyTargetInList", env, []string{"enqueue", "replicate", "--project", "P", "--targets", "a,,b"}, "empty name"},
		{"NoServiceBus", nil, []string{"enqueue", "replicate", "--project", "P"}, "set LANGSYNC_SERVICEBUS"},
		{"BadServiceBus", nil, []string{"enqueue", "replicate", "--project", "P", "--servicebus", "http://x/y"}, "neither a connection string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tt.env, tt.args...)
			if code != exitUsage || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit=%d stderr=%q, want 2 and %q", code, stderr, tt.want)
			}
			if strings.Contains(stderr, "SECRETKEY") {
				t.Fatalf("the connection string's key leaked: %q", stderr)
			}
		})
	}
}

// TestEnqueueOverTheWire sends both requests to the Service Bus stand-in and
// reads them back from its queues.
func TestEnqueueOverTheWire(t *testing.T) {
	emu := sbemulatortest.Start(t, nil)
	env := map[string]string{"LANGSYNC_SERVICEBUS": emu.ConnectionString}
	tests := []struct {
		args  []string
		queue string
		body  string
	}{
		{[]string{"enqueue", "replicate", "--project", "Tickets", "--targets", "secondary, third"}, "langsync-export", `{"project":"Tickets","targets":["secondary","third"]}`},
		{[]string{"enqueue", "restore", "--backup", "primary/Tickets/20261120T020000Z-0123456789ab.tar.gz", "--target", "secondary", "--json"}, "langsync-import", `{"backup":"primary/Tickets/20261120T020000Z-0123456789ab.tar.gz","target":"secondary"}`},
		{[]string{"enqueue", "restore", "--project", "Tickets", "--at", "2026-11-20T01:00:00+01:00", "--target", "secondary", "--as", "T2", "--replace"}, "langsync-import", `{"project":"Tickets","at":"2026-11-20T00:00:00Z","target":"secondary","as":"T2","replace":true}`},
	}
	for _, tt := range tests {
		code, stdout, stderr := runCLI(t, env, tt.args...)
		if code != exitOK {
			t.Fatalf("%v: exit=%d stderr=%q", tt.args, code, stderr)
		}
		if !strings.Contains(stdout, tt.queue) {
			t.Fatalf("stdout %q does not name the queue", stdout)
		}
		if strings.HasSuffix(tt.args[len(tt.args)-1], "--json") {
			var m map[string]any
			if err := json.Unmarshal([]byte(stdout), &m); err != nil || m["queue"] != tt.queue {
				t.Fatalf("--json output %q", stdout)
			}
		}
	}
	for q, want := range map[string][]string{
		"langsync-export": {tests[0].body},
		"langsync-import": {tests[1].body, tests[2].body},
	} {
		msgs, err := emu.Server.Messages(q)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != len(want) {
			t.Fatalf("%s holds %d messages, want %d", q, len(msgs), len(want))
		}
		for i, m := range msgs {
			if string(m.Body) != want[i] || !strings.HasPrefix(m.MessageID, "req-") {
				t.Fatalf("%s[%d] = %s (id %s), want %s", q, i, m.Body, m.MessageID, want[i])
			}
		}
	}
}
