package customhandler_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/langsync/langsync/shared/customhandler"
	"github.com/langsync/langsync/shared/customhandler/customhandlertest"
	"github.com/langsync/langsync/shared/entry/entrytest"
	"github.com/langsync/langsync/shared/langsync"
)

// withMessage returns the malformed Service Bus invocation carrying body.
func withMessage(t testing.TB, body []byte) []byte {
	raw, err := readFile("testdata/servicebus-malformed.json")
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Replace(raw, []byte(`"dGhpcyBpcyBub3QganNvbg=="`), []byte(`"`+base64.StdEncoding.EncodeToString(body)+`"`), 1)
}

// escapingBody is text that JSON escaping inflates up to six times
// (control characters and <, >, & become \u00XX).
func escapingBody(n int) []byte {
	return bytes.Repeat([]byte("<\x01>&\x02\x7f"), n/6)
}

// TestLargeMalformedMessageKeptOnceRaw: a malformed message bigger than
// the inline limit is kept once, as its own bytes, beside a small reason
// document that names it; nothing re-encodes (and inflates) it.
func TestLargeMalformedMessageKeptOnceRaw(t *testing.T) {
	tests := []struct {
		name string
		body []byte
	}{
		{"Text", escapingBody(1 << 20)},
		{"Binary", bytes.Repeat([]byte{0xff, 0x00, 0x80}, 400_000)},
		{"JSON", append(append([]byte(`{"pad":[`), bytes.Repeat([]byte(`1,`), 300_000)...), `1]}`...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			code, _ := f.invoke(t, "export", withMessage(t, tt.body))
			if code != http.StatusOK {
				t.Fatalf("code=%d, want 200", code)
			}
			keys := f.keeper.Keys()
			if len(keys) != 2 || !strings.HasSuffix(keys[0], ".body") || strings.TrimSuffix(keys[0], ".body")+".json" != keys[1] {
				t.Fatalf("kept %v, want <key>.body and <key>.json", keys)
			}
			doc, ok := f.keeper.Doc(keys[1])
			if !ok || doc.RawBlob != keys[0] || doc.RawSize != len(tt.body) || len(doc.Body) != 0 || doc.BodyText != "" || len(doc.BodyBase64) != 0 {
				t.Fatalf("reason document %+v, want it to name the raw blob only", doc)
			}
			raw := f.keeper.Raw()
			if len(raw) > len(tt.body)+4096 {
				t.Fatalf("kept %d bytes for a %d-byte message", len(raw), len(tt.body))
			}
			if !strings.Contains(raw, string(tt.body)) {
				t.Fatal("the raw bytes were not kept as they were")
			}
		})
	}
	// Small inputs stay inline, as before.
	f := newFixture(t, nil)
	f.invoke(t, "export", withMessage(t, []byte("not json")))
	if keys := f.keeper.Keys(); len(keys) != 1 {
		t.Fatalf("a small message kept as %v, want one document", keys)
	}
}

// countingBody counts what the handler reads of a request body.
type countingBody struct {
	r io.Reader
	n int
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestOversizedInvocationRefusedUnread: an invocation whose declared
// length exceeds MaxBody is refused (kept with its reason, 200) without
// reading its body.
func TestOversizedInvocationRefusedUnread(t *testing.T) {
	p := &entrytest.Pipeline{}
	keeper := &entrytest.Keeper{}
	h, err := customhandler.New(customhandler.Options{
		Runs: p, Starts: p, Status: p, Wakes: &customhandlertest.Sender{}, Failed: keeper,
		Logger: slog.New(slog.DiscardHandler), MaxBody: 1 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte("A"), 4<<20)
	body := &countingBody{r: bytes.NewReader([]byte(`{"Data":{"backup":"` + string(payload) + `"},"Metadata":{}}`))}
	req := httptest.NewRequest(http.MethodPost, "/restore", body)
	req.ContentLength = int64(len(payload) + 36)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || len(keeper.Keys()) != 1 || len(p.Calls()) != 0 {
		t.Fatalf("code=%d kept=%v calls=%v, want 200, kept, no pipeline call", rec.Code, keeper.Keys(), p.Calls())
	}
	if body.n != 0 {
		t.Fatalf("the handler read %d bytes of a body it refuses by its length", body.n)
	}
	if doc, _ := keeper.Doc(keeper.Keys()[0]); !strings.Contains(doc.Reason, "larger than 1048576 bytes") {
		t.Fatalf("reason %q", doc.Reason)
	}
}

// TestBlobContentSkipped: a blob trigger's content (the dropped file,
// which the handler reads from storage instead) is not decoded; the drop
// is handled by its name.
func TestBlobContentSkipped(t *testing.T) {
	var got []langsync.RestoreRequest
	p := &entrytest.Pipeline{}
	f := newFixture(t, p)
	raw := readTestdata(t, "blob.json")
	big := bytes.Replace(raw, []byte(`"H4sIAAAAAAAAA8tJzEsvrsxLVihJLS5RSEpMzi4tUEiqBPIANVKD1xoAAAA="`), []byte(`"`+strings.Repeat("QUFB", 1<<18)+`"`), 1)
	code, _ := f.invoke(t, "restore", big)
	for _, c := range p.CallsOf("Restore") {
		got = append(got, c.Restore)
	}
	if code != 200 || len(got) != 1 || got[0].Drop != "restore/myProject-20261201.tar.gz" {
		t.Fatalf("code=%d restores=%+v, want the drop started by name", code, got)
	}
	// A broken envelope is still refused.
	f = newFixture(t, nil)
	if code, _ := f.invoke(t, "restore", bytes.Replace(raw, []byte(`"Metadata": {`), []byte(`"Metadata": {,`), 1)); code != 200 || len(f.keeper.Keys()) != 1 {
		t.Fatalf("broken envelope: code=%d kept=%v", code, f.keeper.Keys())
	}
}

// TestSplitEnvelopeMatchesUnmarshal: the copy-free envelope reader agrees
// with encoding/json on the host's payloads and on odd spellings.
func TestSplitEnvelopeMatchesUnmarshal(t *testing.T) {
	files := []string{"blob.json", "http.json", "http-oldquery.json", "servicebus-binary.json", "servicebus-malformed.json", "servicebus-string.json", "timer.json", "timer-nomonitor.json"}
	for _, name := range files {
		raw := readTestdata(t, name)
		var want customhandler.InvokeRequest
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		got, err := customhandler.SplitEnvelope(raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		a, _ := json.Marshal(want)
		b, _ := json.Marshal(got)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: split %s, want %s", name, b, a)
		}
	}
	for _, bad := range []string{``, `[]`, `{"Data":{}} x`, `{"Data":{"a":tru}}`, `{"Data":{"a":"x}}`, `{"Data":{"a":1,}}`, `{"Data":5}`, `{"Data":{"a":"` + "\x01" + `"}}`, strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100)} {
		if _, err := customhandler.SplitEnvelope([]byte(bad)); err == nil {
			t.Errorf("SplitEnvelope(%.30q) accepted", bad)
		}
	}
	got, err := customhandler.SplitEnvelope([]byte(`{"data":{"m":"x"},"DATA":{"m":"y"},"metadata":null}`))
	if err != nil || string(got.Data["m"]) != `"y"` || got.Metadata != nil {
		t.Errorf("case and repeats: %+v %v", got, err)
	}
}

// BenchmarkOversizedBlobInvocation reports the heap a blob-trigger
// invocation costs per byte of its body (heap-bytes/body-byte): the body
// is read once, into a buffer of its declared size, and the blob content
// inside it is never copied.
func BenchmarkOversizedBlobInvocation(b *testing.B) {
	raw, err := readFile("testdata/blob.json")
	if err != nil {
		b.Fatal(err)
	}
	body := bytes.Replace(raw, []byte(`"H4sIAAAAAAAAA8tJzEsvrsxLVihJLS5RSEpMzi4tUEiqBPIANVKD1xoAAAA="`), []byte(`"`+strings.Repeat("QUFB", 8<<20)+`"`), 1)
	p := nopPipeline{}
	h, err := customhandler.New(customhandler.Options{Runs: p, Starts: p, Status: p, Wakes: nopSender{}, Failed: nopKeeper{}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	var ms0, ms1 runtime.MemStats
	var alloc uint64
	b.ResetTimer()
	for range b.N {
		runtime.ReadMemStats(&ms0)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/restore", bytes.NewReader(body)))
		runtime.ReadMemStats(&ms1)
		alloc += ms1.TotalAlloc - ms0.TotalAlloc
	}
	b.ReportMetric(float64(alloc)/float64(b.N)/float64(len(body)), "heap-bytes/body-byte")
}

// BenchmarkLargeMalformedMessage reports what keeping a malformed message
// costs: kept-bytes/body-byte (1 and a little: raw bytes plus a small
// reason) and heap-bytes/body-byte.
func BenchmarkLargeMalformedMessage(b *testing.B) {
	msg := escapingBody(20 << 20)
	inv := withMessage(b, msg)
	p := nopPipeline{}
	k := &sizeKeeper{}
	h, err := customhandler.New(customhandler.Options{Runs: p, Starts: p, Status: p, Wakes: nopSender{}, Failed: k, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	var ms0, ms1 runtime.MemStats
	var alloc uint64
	b.ResetTimer()
	for range b.N {
		runtime.ReadMemStats(&ms0)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/export", bytes.NewReader(inv)))
		runtime.ReadMemStats(&ms1)
		alloc += ms1.TotalAlloc - ms0.TotalAlloc
	}
	b.ReportMetric(float64(k.n)/float64(b.N)/float64(len(msg)), "kept-bytes/body-byte")
	b.ReportMetric(float64(alloc)/float64(b.N)/float64(len(msg)), "heap-bytes/body-byte")
}

type sizeKeeper struct{ n int }

func (k *sizeKeeper) Keep(_ context.Context, _ string, doc []byte) error { k.n += len(doc); return nil }
