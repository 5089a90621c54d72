package customhandler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/customhandler"
	"github.com/langsync/langsync/shared/customhandler/customhandlertest"
	"github.com/langsync/langsync/shared/entry/entrytest"
	"github.com/langsync/langsync/shared/langsync"
)

// pager is a Reporter that also renders the page.
type pager struct {
	*entrytest.Pipeline
	asked []string
}

func (p *pager) StatusPage(_ context.Context, r langsync.StatusRequest) ([]byte, error) {
	p.asked = append(p.asked, r.Pair)
	return []byte("<!doctype html><title>langsync status</title>"), nil
}

// TestStatusPage: a browser (Accept: text/html) or ?format=html gets the
// HTML page; a script asking for JSON, or ?format=json, gets JSON.
func TestStatusPage(t *testing.T) {
	for _, tt := range []struct {
		name, accept, format string
		html                 bool
	}{
		{"Browser", "text/html,application/xhtml+xml,*/*;q=0.8", "", true},
		{"FormatHTML", "application/json", "html", true},
		{"Script", "application/json", "", false},
		{"FormatJSON", "text/html", "json", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := &pager{Pipeline: &entrytest.Pipeline{OnStatus: func(context.Context, langsync.StatusRequest) (any, error) {
				return map[string]any{"pairs": []string{}}, nil
			}}}
			var logs bytes.Buffer
			h, err := customhandler.New(customhandler.Options{Runs: p, Starts: p, Status: p, Wakes: &customhandlertest.Sender{}, Failed: &entrytest.Keeper{},
				Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Now: func() time.Time { return testNow }})
			if err != nil {
				t.Fatal(err)
			}
			f := &fixture{h: h}
			body := readTestdata(t, "http.json")
			body = bytes.Replace(body, []byte(`"Headers": { "Accept": ["application/json"]`), []byte(`"Headers": { "Accept": [`+quote(tt.accept)+`]`), 1)
			if tt.format != "" {
				body = bytes.Replace(body, []byte(`"Query": { "verbose": "1" },`), []byte(`"Query": { "verbose": "1", "format": "`+tt.format+`" },`), 1)
			}
			_, resp := f.invoke(t, "status", body)
			res := httpOutput(t, resp)
			isHTML := strings.HasPrefix(res.Headers["Content-Type"], "text/html") && strings.Contains(res.Body, "<title>langsync status</title>")
			if res.StatusCode != 200 || isHTML != tt.html {
				t.Fatalf("code %d, headers %v, body %q: want html=%v", res.StatusCode, res.Headers, res.Body, tt.html)
			}
			if tt.html && (len(p.asked) != 1 || p.asked[0] != "primary") {
				t.Errorf("page asked for %v, want the route's pair", p.asked)
			}
			if !tt.html && !json.Valid([]byte(res.Body)) {
				t.Errorf("not JSON: %s", res.Body)
			}
		})
	}
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }
