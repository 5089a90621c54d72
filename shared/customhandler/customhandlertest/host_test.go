package customhandlertest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/blobstore/storeopen"
	"github.com/langsync/langsync/shared/customhandler"
	"github.com/langsync/langsync/shared/entry/entrytest"
	"github.com/langsync/langsync/shared/langsync"
)

var fixedNow = time.Date(2026, 12, 1, 2, 30, 5, 0, time.UTC)

func recorded(t *testing.T, name string) Envelope {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var env Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	return env
}

// normalize decodes every raw value so that formatting does not matter and
// drops sys (UtcNow, RandGuid vary per invocation).
func normalize(t *testing.T, env Envelope) map[string]any {
	t.Helper()
	out := map[string]any{}
	for part, m := range map[string]map[string]json.RawMessage{"Data": env.Data, "Metadata": env.Metadata} {
		mm := map[string]any{}
		for k, v := range m {
			if k == "sys" {
				continue
			}
			var x any
			if err := json.Unmarshal(v, &x); err != nil {
				t.Fatalf("%s.%s: %v", part, k, err)
			}
			mm[k] = x
		}
		out[part] = mm
	}
	return out
}

func functionsDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "..", "functions"))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func loadFn(t *testing.T, name string) Function {
	t.Helper()
	fns, err := LoadFunctions(functionsDir(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fns {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("no function %s", name)
	return Function{}
}

// TestEncodingMatchesRecordedPayloads: the simulator's invocation bodies are
// the host's, byte for byte in value (the host's recorded payloads in
// ../testdata/, as docs/reference/functions-protocol.md describes them).
func TestEncodingMatchesRecordedPayloads(t *testing.T) {
	var lock [16]byte
	copy(lock[:], []byte{0xf4, 0xc1, 0xa9, 0xe2, 0x5f, 0x0b, 0x4d, 0x47, 0x9a, 0x53, 0x0b, 0x6b, 0x1c, 0x3d, 0x2e, 0x10})
	msg := Message{
		Body:          []byte(`{"v":1,"run":"r-20261201-0230","step":"train","seq":7}`),
		MessageID:     "r-20261201-0230/train/7",
		DeliveryCount: 1, LockToken: lock, SequenceNumber: 42,
		EnqueuedTime: time.Date(2026, 12, 1, 2, 30, 5, 0, time.UTC),
		ExpiresAt:    time.Date(2026, 12, 15, 2, 30, 5, 0, time.UTC),
		ContentType:  "application/json",
		Namespace:    "sb-langsync.servicebus.windows.net",
	}
	train := loadFn(t, "train")
	stringBinding := *train.Trigger()
	stringBinding.DataType = ""
	sync := loadFn(t, "sync")
	restore := loadFn(t, "restore")
	blobBytes := func() []byte {
		var raw string
		_ = json.Unmarshal(recorded(t, "blob.json").Data["backup"], &raw)
		b, _ := decodeB64(raw)
		return b
	}()
	status := loadFn(t, "status")
	statusURL, _ := url.Parse("https://langsync-func.azurewebsites.net/api/status/primary?verbose=1")

	tests := []struct {
		name string
		got  Envelope
		want string
	}{
		{"ServiceBusString", ServiceBusInvocation(stringBinding, "train", msg, fixedNow), "servicebus-string.json"},
		{"ServiceBusBinary", ServiceBusInvocation(*train.Trigger(), "train", msg, fixedNow), "servicebus-binary.json"},
		{"Timer", TimerInvocation(*sync.Trigger(), "sync", time.Date(2026, 12, 1, 2, 30, 0, 0, time.UTC), time.Date(2026, 11, 30, 2, 30, 0, 9603500, time.UTC), false, fixedNow), "timer.json"},
		{"Blob", BlobInvocation(*restore.Trigger(), "restore", Blob{
			Container: "langsync-state", Name: "restore/myProject-20261201.tar.gz", Content: blobBytes,
			ETag: `"0x8DD1234567890AB"`, LastModified: time.Date(2026, 12, 1, 7, 0, 0, 0, time.UTC), ContentType: "application/gzip",
			Metadata:   map[string]string{"sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
			AccountURL: "https://stlangsync.blob.core.windows.net",
		}, map[string]string{"name": "myProject-20261201.tar.gz"}, fixedNow), "blob.json"},
		{"HTTP", HTTPInvocation(*status.Trigger(), "status", statusURL, "GET",
			map[string][]string{"Accept": {"application/json"}, "x-functions-key": {"FUNCTION-KEY-SECRET-0123456789"}},
			map[string]string{"pair": "primary"}, nil, fixedNow), "http.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, want := normalize(t, tt.got), normalize(t, recorded(t, tt.want))
			if tt.name == "Blob" {
				// ContentLength in the recorded sample is the sample's own.
				props := want["Metadata"].(map[string]any)["Properties"].(map[string]any)
				props["ContentLength"] = float64(len(blobBytes))
			}
			if !reflect.DeepEqual(got, want) {
				g, _ := json.MarshalIndent(got, "", " ")
				w, _ := json.MarshalIndent(want, "", " ")
				t.Fatalf("simulator payload differs from the host's\n got: %s\nwant: %s", g, w)
			}
			if tt.got.Metadata["sys"] == nil {
				t.Fatal("no Metadata.sys")
			}
		})
	}
}

func decodeB64(s string) ([]byte, error) {
	env := Envelope{Data: map[string]json.RawMessage{"x": json.RawMessage(fmt.Sprintf("%q", s))}}
	return customhandler.Bytes(env.Data["x"], true)
}

// memBlobs is an in-memory BlobSource.
type memBlobs struct {
	mu    sync.Mutex
	blobs map[string]Blob
}

func (m *memBlobs) put(name string, content []byte, etag string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.blobs == nil {
		m.blobs = map[string]Blob{}
	}
	m.blobs[name] = Blob{Name: name, Content: content, ETag: etag, LastModified: fixedNow}
}

func (m *memBlobs) List(_ context.Context, container, prefix string) ([]Blob, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Blob
	for name, b := range m.blobs {
		if container == "langsync-state" && strings.HasPrefix(name, prefix) {
			out = append(out, b)
		}
	}
	return out, nil
}

func (m *memBlobs) Read(_ context.Context, _, name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.blobs[name].Content, nil
}

type simFixture struct {
	host   *Host
	p      *entrytest.Pipeline
	keeper *entrytest.Keeper
	sender *Sender
	blobs  *memBlobs
	front  *httptest.Server
}

func newSim(t *testing.T, p *entrytest.Pipeline) *simFixture {
	t.Helper()
	if p == nil {
		p = &entrytest.Pipeline{}
	}
	f := &simFixture{p: p, keeper: &entrytest.Keeper{}, sender: &Sender{}, blobs: &memBlobs{}}
	h, err := customhandler.New(customhandler.Options{
		Runs: p, Starts: p, Status: p, Wakes: f.sender, Failed: f.keeper,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	f.host, err = New(Options{
		FunctionsDir: functionsDir(t), HandlerURL: srv.URL, FunctionKey: "fk-123",
		Blobs: f.blobs, Settings: func(k string) string { return map[string]string{"LANGSYNC_SCHEDULE": "0 0 2 * * *"}[k] },
	})
	if err != nil {
		t.Fatal(err)
	}
	f.front = httptest.NewServer(f.host)
	t.Cleanup(f.front.Close)
	if err := f.host.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestSimulatorDrivesHandler(t *testing.T) {
	ctx := context.Background()
	f := newSim(t, &entrytest.Pipeline{
		OnSync: func(context.Context, langsync.Tick) ([]langsync.Wake, error) {
			return []langsync.Wake{{Wakeup: langsync.Wakeup{Run: "r1", Step: "export", Seq: 1}, Project: "Tickets"}}, nil
		},
	})
	if got := f.host.Functions(); strings.Join(got, ",") != "deploy,export,import,restore,status,sync,train" {
		t.Fatalf("functions %v", got)
	}
	if fn, _ := f.host.Function("sync"); fn.Trigger().Schedule != "0 0 2 * * *" {
		t.Fatalf("schedule %q: %%LANGSYNC_SCHEDULE%% not resolved", fn.Trigger().Schedule)
	}

	t.Run("Timer", func(t *testing.T) {
		if r := f.host.FireTimer(ctx, "sync"); !r.OK() {
			t.Fatal(r.Err)
		}
		if s := f.sender.Sent(); len(s) != 1 || s[0].Queue != "langsync-export" || s[0].MessageID != "r1/export/1" {
			t.Fatalf("sent %+v, want the export wake-up", s)
		}
	})
	t.Run("MessageBothEncodings", func(t *testing.T) {
		r := f.host.DeliverMessage(ctx, "export", Message{Body: []byte(`{"project":"Tickets"}`), MessageID: "m1", DeliveryCount: 1})
		if !r.OK() || len(f.p.CallsOf("Replicate")) != 1 {
			t.Fatalf("result %+v calls %+v", r, f.p.Calls())
		}
	})
	t.Run("MalformedIsOK", func(t *testing.T) {
		r := f.host.DeliverMessage(ctx, "import", Message{Body: []byte(`{"backup":`), MessageID: "m2", DeliveryCount: 1})
		if !r.OK() {
			t.Fatalf("malformed message failed the invocation (it would be retried): %v", r.Err)
		}
		if len(f.keeper.Keys()) != 1 {
			t.Fatalf("kept %v", f.keeper.Keys())
		}
	})
	t.Run("WrongTrigger", func(t *testing.T) {
		if r := f.host.FireTimer(ctx, "export"); r.OK() {
			t.Fatal("fired a timer on a Service Bus function")
		}
	})
	t.Run("HTTP", func(t *testing.T) {
		tests := []struct {
			name, path string
			header     map[string]string
			method     string
			want       int
		}{
			{"NoKey", "/api/status", nil, "GET", 401},
			{"BadKey", "/api/status?code=wrong", nil, "GET", 401},
			{"QueryKey", "/api/status?code=fk-123", nil, "GET", 200},
			{"HeaderKeyPair", "/api/status/primary", map[string]string{"x-functions-key": "fk-123"}, "GET", 200},
			{"Method", "/api/status", map[string]string{"x-functions-key": "fk-123"}, "POST", 405},
			{"NoRoute", "/api/nope", nil, "GET", 404},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				req, _ := http.NewRequest(tt.method, f.front.URL+tt.path, nil)
				for k, v := range tt.header {
					req.Header.Set(k, v)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tt.want {
					t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.want, body)
				}
				if tt.want == 200 && (resp.Header.Get("Content-Type") != "application/json" || string(body) != `{"pairs":[]}`) {
					t.Fatalf("body %q type %q", body, resp.Header.Get("Content-Type"))
				}
			})
		}
		if c := f.p.CallsOf("Status"); len(c) != 2 || c[1].Status.Pair != "primary" {
			t.Fatalf("status calls %+v, want 2, the second for pair primary", c)
		}
	})
	t.Run("BlobScan", func(t *testing.T) {
		f.blobs.put("restore/a.tar.gz", []byte("A"), `"1"`)
		f.blobs.put("runs/x.json", []byte("{}"), `"2"`)
		n, err := f.host.ScanBlobs(ctx)
		if err != nil || n != 1 {
			t.Fatalf("scan n=%d err=%v, want 1 delivery", n, err)
		}
		if n, _ := f.host.ScanBlobs(ctx); n != 0 {
			t.Fatalf("second scan delivered %d, want 0 (receipt)", n)
		}
		f.blobs.put("restore/a.tar.gz", []byte("A2"), `"3"`)
		if n, _ := f.host.ScanBlobs(ctx); n != 1 {
			t.Fatalf("new version delivered %d times, want 1", n)
		}
		c := f.p.CallsOf("Restore")
		if len(c) != 2 || c[0].Restore.Drop != "restore/a.tar.gz" {
			t.Fatalf("restore calls %+v", c)
		}
	})
}

func TestBlobTriggerRetriesFiveTimes(t *testing.T) {
	f := newSim(t, &entrytest.Pipeline{
		OnRestore: func(context.Context, langsync.RestoreRequest) ([]langsync.Wake, error) {
			return nil, fmt.Errorf("store unavailable")
		},
	})
	f.blobs.put("restore/b.tar.gz", []byte("B"), `"1"`)
	total := 0
	for i := 0; i < 7; i++ {
		n, err := f.host.ScanBlobs(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	if total != 5 {
		t.Fatalf("delivered %d times, want 5 (then poison)", total)
	}
}

func TestMatchers(t *testing.T) {
	routeTests := []struct {
		route, path string
		ok          bool
		params      map[string]string
	}{
		{"status/{pair?}", "status", true, map[string]string{}},
		{"status/{pair?}", "status/primary", true, map[string]string{"pair": "primary"}},
		{"status/{pair?}", "STATUS/a%20b", true, map[string]string{"pair": "a b"}},
		{"status/{pair?}", "status/a/b", false, nil},
		{"status/{pair}", "status", false, nil},
		{"status", "other", false, nil},
	}
	for _, tt := range routeTests {
		p, ok := matchRoute(tt.route, tt.path)
		if ok != tt.ok || (ok && !reflect.DeepEqual(p, tt.params)) {
			t.Errorf("matchRoute(%q,%q)=%v,%v want %v,%v", tt.route, tt.path, p, ok, tt.params, tt.ok)
		}
	}
	blobTests := []struct {
		path, container, name string
		ok                    bool
		caps                  map[string]string
	}{
		{"langsync-state/restore/{name}", "langsync-state", "restore/x.tar.gz", true, map[string]string{"name": "x.tar.gz"}},
		{"langsync-state/restore/{name}", "langsync-state", "restore/d/x.json", true, map[string]string{"name": "d/x.json"}},
		{"langsync-state/restore/{name}", "langsync-state", "runs/x.json", false, nil},
		{"langsync-state/restore/{name}", "other", "restore/x", false, nil},
		{"c/in/{blobname}.{ext}", "c", "in/a.json", true, map[string]string{"blobname": "a", "ext": "json"}},
	}
	for _, tt := range blobTests {
		_, caps, ok := matchBlobPath(tt.path, tt.container, tt.name)
		if ok != tt.ok || (ok && !reflect.DeepEqual(caps, tt.caps)) {
			t.Errorf("matchBlobPath(%q,%q,%q)=%v,%v want %v,%v", tt.path, tt.container, tt.name, caps, ok, tt.caps, tt.ok)
		}
	}
	if got := resolve("%A%-x-%B%", func(k string) string { return strings.ToLower(k) }); got != "a-x-b" {
		t.Errorf("resolve=%q", got)
	}
}

// TestNonSuccessFailsInvocation: the simulator applies the host's rules to
// the handler's answer.
func TestNonSuccessFailsInvocation(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		ok      bool
	}{
		{"JSON200", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"outputs":{},"logs":["x"],"returnValue":null}`)
		}, true},
		{"500", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }, false},
		{"TextPlain", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, `{"Outputs":{}}`) }, false},
		{"BadJSON", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{`)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			h, err := New(Options{FunctionsDir: functionsDir(t), HandlerURL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			r := h.FireTimer(context.Background(), "sync")
			if r.OK() != tt.ok {
				t.Fatalf("OK=%v, want %v (err %v)", r.OK(), tt.ok, r.Err)
			}
			if tt.ok && (len(r.Response.Logs) != 1 || r.Response.Logs[0] != "x") {
				t.Fatalf("logs %q: property names must match case-insensitively", r.Response.Logs)
			}
		})
	}
}

func TestTimers(t *testing.T) {
	fired := make(chan langsync.Tick, 4)
	p := &entrytest.Pipeline{OnSync: func(_ context.Context, tk langsync.Tick) ([]langsync.Wake, error) {
		fired <- tk
		return nil, nil
	}}
	f := newSim(t, p)
	next, err := f.host.NextTimer("sync", time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC))
	if err != nil || !next.Equal(time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC)) {
		t.Fatalf("next=%v err=%v, want the next day's 02:00 (0 0 2 * * *)", next, err)
	}
	// Every second, so the test sees two firings quickly.
	h, err := New(Options{FunctionsDir: functionsDir(t), HandlerURL: f.host.opts.HandlerURL,
		Settings: func(k string) string { return map[string]string{"LANGSYNC_SCHEDULE": "* * * * * *"}[k] }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.RunTimers(ctx) }()
	var ticks []langsync.Tick
	for len(ticks) < 2 {
		select {
		case tk := <-fired:
			ticks = append(ticks, tk)
		case <-time.After(10 * time.Second):
			t.Fatalf("timer fired %d times in 10s, want 2", len(ticks))
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !ticks[1].Last.Equal(ticks[0].Scheduled) || ticks[1].Scheduled.Sub(ticks[0].Scheduled) != time.Second {
		t.Fatalf("ticks %+v, want consecutive seconds with Last = previous occurrence", ticks)
	}

	for _, bad := range []map[string]string{nil, {"LANGSYNC_SCHEDULE": "0 2 * * *"}} {
		h, err := New(Options{FunctionsDir: functionsDir(t), HandlerURL: f.host.opts.HandlerURL, Settings: func(k string) string { return bad[k] }})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.RunTimers(context.Background()); err == nil || !strings.Contains(err.Error(), "schedule") {
			t.Fatalf("settings %v: RunTimers err=%v, want a schedule error", bad, err)
		}
	}
}

// TestStoreBlobsScan: blobs put in a real store (directory) under the
// trigger's path are delivered once per version.
func TestStoreBlobsScan(t *testing.T) {
	ctx := context.Background()
	st, err := storeopen.Open(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.EnsureContainer(ctx, "langsync-state"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"restore/Tickets.tar.gz", "runs/r1.json"} {
		if _, err := st.Put(ctx, "langsync-state", k, strings.NewReader("x"), nil); err != nil {
			t.Fatal(err)
		}
	}
	f := newSim(t, nil)
	f.host.opts.Blobs = StoreBlobs{Store: st, AccountURL: "http://127.0.0.1:10000/devstoreaccount1"}
	n, err := f.host.ScanBlobs(ctx)
	if err != nil || n != 1 {
		t.Fatalf("scan n=%d err=%v, want 1", n, err)
	}
	c := f.p.CallsOf("Restore")
	if len(c) != 1 || c[0].Restore.Drop != "restore/Tickets.tar.gz" {
		t.Fatalf("restore calls %+v", c)
	}
	if !strings.Contains(string(f.host.Results()[0].Request), `devstoreaccount1/langsync-state/restore/Tickets.tar.gz`) {
		t.Fatalf("invocation lacks the blob Uri: %s", f.host.Results()[0].Request)
	}
}
