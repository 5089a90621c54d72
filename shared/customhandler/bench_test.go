package customhandler_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/customhandler"
	"github.com/langsync/langsync/shared/langsync"
)

// nopPipeline answers every wake-up with one next wake-up and records
// nothing (so the benchmark measures the handler, not the fake).
type nopPipeline struct{}

func (nopPipeline) Advance(_ context.Context, w langsync.Wakeup) ([]langsync.Wake, error) {
	return []langsync.Wake{{Wakeup: langsync.Wakeup{Run: w.Run, Step: "deploy", Seq: w.Seq + 1}, Project: "Tickets"}}, nil
}
func (nopPipeline) Fail(context.Context, string, string) error { return nil }
func (nopPipeline) Sync(context.Context, langsync.Tick) ([]langsync.Wake, error) {
	return nil, nil
}
func (nopPipeline) Replicate(context.Context, langsync.ReplicateRequest) ([]langsync.Wake, error) {
	return nil, nil
}
func (nopPipeline) Restore(context.Context, langsync.RestoreRequest) ([]langsync.Wake, error) {
	return nil, nil
}
func (nopPipeline) Status(context.Context, langsync.StatusRequest) (any, error) { return nil, nil }

type nopSender struct{}

func (nopSender) Send(context.Context, string, []byte, string) error { return nil }
func (nopSender) Schedule(context.Context, string, []byte, string, time.Time) error {
	return nil
}

type nopKeeper struct{}

func (nopKeeper) Keep(context.Context, string, []byte) error { return nil }

// BenchmarkHandlerOverhead measures what the custom handler adds to one
// Service Bus invocation (decode the host envelope, parse the wake-up, call
// Advance, encode and send the next wake-up, log, answer), excluding any
// Language call: the pipeline is a no-op. The baseline, measured in the same
// run, calls the same entry point directly (Advance + SendWake with the
// wake-up already decoded). Reported: direct-ns/op, overhead-ns/op and
// x-direct (handler time / direct time).
func BenchmarkHandlerOverhead(b *testing.B) {
	body, err := readFile("testdata/servicebus-binary.json")
	if err != nil {
		b.Fatal(err)
	}
	p := nopPipeline{}
	h, err := customhandler.New(customhandler.Options{
		Runs: p, Starts: p, Status: p, Wakes: nopSender{}, Failed: nopKeeper{},
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	direct := func(ctx context.Context) {
		wakes, _ := p.Advance(ctx, langsync.Wakeup{V: 1, Run: "r-20261201-0230", Step: "train", Seq: 7})
		for _, w := range wakes {
			_ = customhandler.SendWake(ctx, nopSender{}, time.Now(), w)
		}
	}
	baseline := func(n int) time.Duration {
		ctx := context.Background()
		start := time.Now()
		for i := 0; i < n; i++ {
			direct(ctx)
		}
		return time.Since(start)
	}

	b.Run("InProcess", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			req := httptest.NewRequest(http.MethodPost, "/train", bytes.NewReader(body))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("code %d", rec.Code)
			}
		}
		report(b, baseline(b.N))
	})
	b.Run("Loopback", func(b *testing.B) {
		srv := httptest.NewServer(h)
		defer srv.Close()
		client := srv.Client()
		b.ReportAllocs()
		for b.Loop() {
			resp, err := client.Post(srv.URL+"/train", "application/json", bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("code %d", resp.StatusCode)
			}
		}
		report(b, baseline(b.N))
	})
}

func report(b *testing.B, base time.Duration) {
	b.Helper()
	n := float64(b.N)
	perOp := float64(b.Elapsed().Nanoseconds()) / n
	directPerOp := float64(base.Nanoseconds()) / n
	b.ReportMetric(directPerOp, "direct-ns/op")
	b.ReportMetric(perOp-directPerOp, "overhead-ns/op")
	if directPerOp > 0 {
		b.ReportMetric(perOp/directPerOp, "x-direct")
	}
}

func readFile(name string) ([]byte, error) { return os.ReadFile(name) }
