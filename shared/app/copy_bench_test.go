package app_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/blobstore/azblobstore"
	"github.com/langsync/langsync/shared/blobstore/azuritetest"
)

// streamingOnly hides a store's server-side copy methods, so Backups
// streams every document through this process: the baseline.
type streamingOnly struct{ blobstore.Store }

// BenchmarkDocumentCopy copies N documents (default 2,000;
// LANGSYNC_BENCH_DOCS sets N, or a comma-separated list of sizes, each a
// sub-benchmark) from one storage account to another of a fresh Azurite
// with Backups.MirrorDocuments: server-side (Copy Blob From URL with a
// service SAS: the bytes never reach this process) and, in the same run,
// streamed through it (the baseline, and what a directory store gets). It
// reports documents per second of each, their ratio, the peak Go heap of
// this process during each copy (also per document) and this process's CPU
// time per 1,000 documents copied server-side (Azurite runs in its own
// process). LANGSYNC_BENCH_WORKERS sets the copies in flight (default 32).
func BenchmarkDocumentCopy(b *testing.B) {
	sizes := []int{2000}
	if v := os.Getenv("LANGSYNC_BENCH_DOCS"); v != "" {
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				b.Fatalf("LANGSYNC_BENCH_DOCS=%q: want a positive number of documents or a comma-separated list of them", v)
			}
			sizes = append(sizes, n)
		}
	}
	if len(sizes) == 1 {
		benchDocumentCopy(b, sizes[0])
		return
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("docs-%d", n), func(b *testing.B) { benchDocumentCopy(b, n) })
	}
}

func benchDocumentCopy(b *testing.B, n int) {
	workers, _ := strconv.Atoi(os.Getenv("LANGSYNC_BENCH_WORKERS"))
	ctx := context.Background()
	// A fresh Azurite per size: its blob lookups scan the account (see
	// docs/pipeline.md), so blobs left by other sizes or benchmarks
	// would slow this one.
	conn := azuritetest.Start(b)
	src, err := azblobstore.NewFromConnectionString(conn, nil)
	if err != nil {
		b.Fatal(err)
	}
	// Retried tries are counted: a slow Azurite answering past a try's
	// timeout would otherwise show only as a lower rate.
	var retries atomic.Int64
	tgt, err := azblobstore.NewFromConnectionString(azuritetest.SecondConnectionString(conn), &azblobstore.Options{OnRetry: func(azblobstore.RetryEvent) { retries.Add(1) }})
	if err != nil {
		b.Fatal(err)
	}
	container := fmt.Sprintf("copybench-%d", containerSeq.Add(1))
	if err := src.EnsureContainer(ctx, container); err != nil {
		b.Fatal(err)
	}
	docs := make(map[string]string, n)
	for i := range n {
		// About the size of a support ticket.
		docs[fmt.Sprintf("doc-%06d.txt", i)] = fmt.Sprintf("ticket %d: I was charged twice this month and the website is down again; please refund the duplicate payment on my card.", i)
	}
	putAll(b, src, container, docs)
	clear(docs)
	// What one lookup costs Azurite with the account this full: its
	// metadata store scans the account's blobs (docs/pipeline.md).
	lookup := time.Now()
	for i := range 50 {
		if _, err := src.Stat(ctx, container, fmt.Sprintf("doc-%06d.txt", i*n/50)); err != nil {
			b.Fatal(err)
		}
	}
	lookupMS := float64(time.Since(lookup).Microseconds()) / 50 / 1000
	b.ResetTimer()
	elapsed := map[bool]time.Duration{}
	peak, live, grown := map[bool]uint64{}, map[bool]uint64{}, map[bool]uint64{}
	var cpu time.Duration
	for range b.N {
		for _, serverSide := range []bool{false, true} {
			b.StopTimer()
			deleteAll(b, tgt, container)
			var dst blobstore.Store = tgt
			if !serverSide {
				dst = streamingOnly{tgt}
			}
			bk := &app.Backups{StreamMirror: true, MirrorWorkers: workers, Documents: func(_ context.Context, resource string) (blobstore.Store, error) {
				if resource == "source" {
					return src, nil
				}
				return dst, nil
			}}
			// Twice: a sync.Pool's buffers (the streamed copy's) survive
			// one collection, and would count in the next copy's peak.
			runtime.GC()
			runtime.GC()
			stop := sampleHeap()
			cpu0 := processCPU(b)
			b.StartTimer()
			start := time.Now()
			copied, err := bk.MirrorDocuments(ctx, "source", "target", container)
			elapsed[serverSide] += time.Since(start)
			b.StopTimer()
			if serverSide {
				cpu += processCPU(b) - cpu0
			}
			p, l, l0 := stop()
			peak[serverSide], live[serverSide] = max(peak[serverSide], p), max(live[serverSide], l)
			grown[serverSide] = max(grown[serverSide], l-min(l, l0))
			if err != nil || copied != n {
				b.Fatalf("copied %d of %d: %v", copied, n, err)
			}
			b.StartTimer()
		}
	}
	rate := func(ss bool) float64 { return float64(n*b.N) / elapsed[ss].Seconds() }
	b.ReportMetric(rate(true), "server-side-docs/s")
	b.ReportMetric(rate(false), "streamed-docs/s")
	b.ReportMetric(rate(true)/rate(false), "server/streamed")
	b.ReportMetric(float64(peak[true])/(1<<20), "server-side-peak-heap-MiB")
	b.ReportMetric(float64(live[true])/(1<<20), "server-side-peak-live-heap-MiB")
	b.ReportMetric(float64(grown[true])/float64(n), "server-side-live-heap-B/doc")
	b.ReportMetric(float64(peak[false])/(1<<20), "streamed-peak-heap-MiB")
	b.ReportMetric(lookupMS, "azurite-lookup-ms")
	b.ReportMetric(float64(retries.Load()), "retried-tries")
	b.ReportMetric(cpu.Seconds()*1000/float64(n*b.N)*1000, "server-side-cpu-ms/1000docs")
}

// processCPU returns the user and system CPU time this process has used.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sampleHeap samples the heap every 20 ms (rarely enough not to weigh in
// the CPU figure) until the returned function is called, which returns the highest values seen of the heap's objects
// (live and garbage not yet collected: what the process holds) and of the
// live heap as of the last collection (what the copy needs), and the live
// heap at the start.
func sampleHeap() func() (objects, live, start uint64) {
	var top, topLive, first atomic.Uint64
	first.Store(^uint64(0))
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > top.Load() {
				top.Store(v)
			}
			if v := s[1].Value.Uint64(); v > topLive.Load() {
				topLive.Store(v)
			}
			first.CompareAndSwap(^uint64(0), s[1].Value.Uint64())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() (uint64, uint64, uint64) {
		close(done)
		wg.Wait()
		return top.Load(), topLive.Load(), first.Load()
	}
}

// deleteAll empties a container (if it exists).
func deleteAll(tb testing.TB, s blobstore.Store, container string) {
	infos, err := s.List(context.Background(), container, "")
	if err != nil {
		return
	}
	parallel(tb, len(infos), func(i int) error {
		// A try that timed out on a slow Azurite may have deleted the
		// blob before its retry: gone is what is wanted.
		if err := s.Delete(context.Background(), container, infos[i].Key, ""); err != nil && !errors.Is(err, blobstore.ErrNotFound) {
			return err
		}
		return nil
	})
}
