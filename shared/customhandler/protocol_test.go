package customhandler_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/customhandler"
	"github.com/langsync/langsync/shared/customhandler/customhandlertest"
	"github.com/langsync/langsync/shared/langsync"
)

func TestValueDecoding(t *testing.T) {
	tests := []struct {
		raw        string
		wantValue  string
		wantString string
		stringOK   bool
	}{
		{`"\"HelloWorld\""`, `"HelloWorld"`, "HelloWorld", true}, // host double encoding
		{`"HelloWorld"`, `"HelloWorld"`, "HelloWorld", true},     // docs' single encoding
		{`"1"`, `1`, "1", true},
		{`"\"1\""`, `"1"`, "1", true},
		{`1`, `1`, "1", true},
		{`{"a":1}`, `{"a":1}`, "", false},
		{`"{\"a\":1}"`, `{"a":1}`, "", false},
		{`null`, `null`, "", false},
		{``, ``, "", false},
	}
	for _, tt := range tests {
		if got := string(customhandler.Value(json.RawMessage(tt.raw))); got != tt.wantValue {
			t.Errorf("Value(%s)=%s, want %s", tt.raw, got, tt.wantValue)
		}
		s, ok := customhandler.String(json.RawMessage(tt.raw))
		if s != tt.wantString || ok != tt.stringOK {
			t.Errorf("String(%s)=%q,%v want %q,%v", tt.raw, s, ok, tt.wantString, tt.stringOK)
		}
	}
}

func TestIntAndTime(t *testing.T) {
	for _, raw := range []string{`"7"`, `"\"7\""`, `7`} {
		if n, err := customhandler.Int(json.RawMessage(raw)); err != nil || n != 7 {
			t.Errorf("Int(%s)=%d,%v want 7", raw, n, err)
		}
	}
	if _, err := customhandler.Int(json.RawMessage(`"seven"`)); err == nil {
		t.Error("Int(seven) did not fail")
	}
	want := time.Date(2026, 12, 1, 2, 30, 5, 0, time.UTC)
	for _, raw := range []string{`"2026-12-01T02:30:05"`, `"2026-12-01T02:30:05+00:00"`, `"2026-12-01T03:30:05+01:00"`, `"\"2026-12-01T02:30:05Z\""`, `"2026-12-01T02:30:05.0000000"`} {
		if got, err := customhandler.Time(json.RawMessage(raw)); err != nil || !got.Equal(want) {
			t.Errorf("Time(%s)=%v,%v want %v", raw, got, err, want)
		}
	}
	if _, err := customhandler.Time(json.RawMessage(`"yesterday"`)); err == nil {
		t.Error("Time(yesterday) did not fail")
	}
}

func TestBytes(t *testing.T) {
	body := `{"v":1,"run":"r","step":"train","seq":7}`
	tests := []struct {
		name   string
		raw    string
		binary bool
		want   string
	}{
		{"Base64Binary", `"eyJ2IjoxLCJydW4iOiJyIiwic3RlcCI6InRyYWluIiwic2VxIjo3fQ=="`, true, body},
		{"DoubleEncoded", `"\"{\\\"v\\\":1,\\\"run\\\":\\\"r\\\",\\\"step\\\":\\\"train\\\",\\\"seq\\\":7}\""`, false, body},
		{"DoubleEncodedButBinaryDeclared", `"\"{\\\"v\\\":1,\\\"run\\\":\\\"r\\\",\\\"step\\\":\\\"train\\\",\\\"seq\\\":7}\""`, true, body},
		{"Base64ButStringDeclared", `"eyJ2IjoxLCJydW4iOiJyIiwic3RlcCI6InRyYWluIiwic2VxIjo3fQ=="`, false, body},
		{"PlainText", `"\"hello there\""`, false, "hello there"},
		{"Object", `{"a":1}`, false, `{"a":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := customhandler.Bytes(json.RawMessage(tt.raw), tt.binary)
			if err != nil || string(got) != tt.want {
				t.Fatalf("Bytes=%q,%v want %q", got, err, tt.want)
			}
		})
	}
	if _, err := customhandler.Bytes(nil, true); err == nil {
		t.Error("missing value did not fail")
	}
}

func TestHTTPResponseLenient(t *testing.T) {
	for _, raw := range []string{`{"statusCode":"201","body":"x"}`, `{"statusCode":201,"body":"x"}`, `{"status":201,"body":"x"}`} {
		var r customhandler.HTTPResponse
		if err := json.Unmarshal([]byte(raw), &r); err != nil || r.StatusCode != 201 || r.Body != "x" {
			t.Errorf("%s -> %+v, %v", raw, r, err)
		}
	}
	var r customhandler.HTTPResponse
	if err := json.Unmarshal([]byte(`{"body":{"a":1}}`), &r); err != nil || r.StatusCode != 200 || r.Body != `{"a":1}` {
		t.Errorf("JSON body -> %+v, %v", r, err)
	}
}

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
			m, err := customhandler.ParseMessage(tt.queue, []byte(tt.body))
			if tt.wantErr == "" {
				if err != nil || m.Kind() != tt.wantKind {
					t.Fatalf("kind=%s err=%v, want %s", m.Kind(), err, tt.wantKind)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err=%v, want one containing %q", err, tt.wantErr)
			}
			if !errors.Is(err, customhandler.ErrMalformed) || !customhandler.IsPermanent(err) {
				t.Fatalf("err=%v is not ErrMalformed/permanent", err)
			}
		})
	}
}

// TestUnknownStepIsNotSent: a wake-up for a step no queue serves is an
// error (the routing itself is langsync.QueueFor's, tested there).
func TestUnknownStepIsNotSent(t *testing.T) {
	var s customhandlertest.Sender
	err := customhandler.SendWake(context.Background(), &s, time.Now(), customhandler.Wake{Wakeup: langsync.Wakeup{Run: "r", Step: "nope", Seq: 1}})
	if !errors.Is(err, customhandler.ErrUnknownStep) || len(s.Sent()) != 0 {
		t.Errorf("SendWake(nope) err=%v sent=%v", err, s.Sent())
	}
}
