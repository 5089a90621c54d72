package customhandler_test

import (
	"context"
	"encoding/json"
	"errors"
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

// TestUnknownStepIsNotSent: a wake-up for a step no queue serves is an
// error (the routing itself is langsync.QueueFor's, tested there).
func TestUnknownStepIsNotSent(t *testing.T) {
	var s customhandlertest.Sender
	err := customhandler.SendWake(context.Background(), &s, time.Now(), langsync.Wake{Wakeup: langsync.Wakeup{Run: "r", Step: "nope", Seq: 1}})
	if !errors.Is(err, langsync.ErrUnknownStep) || len(s.Sent()) != 0 {
		t.Errorf("SendWake(nope) err=%v sent=%v", err, s.Sent())
	}
}
