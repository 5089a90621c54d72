package app_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
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
// LANGSYNC_BENCH_DOCS for more) from one storage account to another of the
// same Azurite with Backups.MirrorDocuments: server-side (Copy Blob From
// URL with a service SAS: the bytes never reach this process) and, in the
// same run, streamed through it (the baseline, and what a directory store
// gets). It reports documents per second of each, their ratio, and the peak
// Go heap of this process during each copy.
func BenchmarkDocumentCopy(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("LANGSYNC_BENCH_DOCS")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	conn := azuritetest.Shared(b)
	src, err := azblobstore.NewFromConnectionString(conn, nil)
	if err != nil {
		b.Fatal(err)
	}
	tgt, err := azblobstore.NewFromConnectionString(azuritetest.SecondConnectionString(conn), nil)
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
	b.ResetTimer()
	elapsed := map[bool]time.Duration{}
	peak := map[bool]uint64{}
	for range b.N {
		for _, serverSide := range []bool{false, true} {
			b.StopTimer()
			deleteAll(b, tgt, container)
			var dst blobstore.Store = tgt
			if !serverSide {
				dst = streamingOnly{tgt}
			}
			bk := &app.Backups{StreamMirror: true, Documents: func(_ context.Context, resource string) (blobstore.Store, error) {
				if resource == "source" {
					return src, nil
				}
				return dst, nil
			}}
			runtime.GC()
			stop := sampleHeap()
			b.StartTimer()
			start := time.Now()
			copied, err := bk.MirrorDocuments(ctx, "source", "target", container)
			elapsed[serverSide] += time.Since(start)
			b.StopTimer()
			peak[serverSide] = max(peak[serverSide], stop())
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
	b.ReportMetric(float64(peak[false])/(1<<20), "streamed-peak-heap-MiB")
}

// sampleHeap samples the live heap every 5 ms until the returned function
// is called, which returns the highest value seen.
func sampleHeap() func() uint64 {
	var top atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > top.Load() {
				top.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return top.Load()
	}
}

// deleteAll empties a container (if it exists).
func deleteAll(tb testing.TB, s blobstore.Store, container string) {
	infos, err := s.List(context.Background(), container, "")
	if err != nil {
		return
	}
	parallel(tb, len(infos), func(i int) error { return s.Delete(context.Background(), container, infos[i].Key, "") })
}
