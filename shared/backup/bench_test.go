package backup_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/backup"
	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/blobstore/azuritetest"
	"github.com/langsync/langsync/shared/blobstore/blobstoretest"
	"github.com/langsync/langsync/shared/blobstore/storeopen"
)

// The synthetic project: LANGSYNC_BENCH_DOCS documents (default 2,000 so
// `make bench` stays quick; the figures in docs/backup.md are for 100,000)
// of 4-6 KB of word-like text each, generated on the fly, never stored.
func benchDocCount(b *testing.B) int {
	if s := os.Getenv("LANGSYNC_BENCH_DOCS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("LANGSYNC_BENCH_DOCS=%q: want a positive number", s)
		}
		return n
	}
	return 2000
}

// textBlock is 256 KiB of pseudo-random words; each document is a window
// into it at its own offset, so documents differ and compress like text.
var textBlock = sync.OnceValue(func() []byte {
	words := strings.Fields("the invoice payment account password outage website refund order delivery charged twice month support ticket service error login reset billing cancel subscription upgrade plan network slow again please help customer number email phone address card declined")
	r := rand.New(rand.NewPCG(1, 2))
	var buf bytes.Buffer
	for buf.Len() < 256<<10 {
		buf.WriteString(words[r.IntN(len(words))])
		if r.IntN(12) == 0 {
			buf.WriteString(".\n")
		} else {
			buf.WriteByte(' ')
		}
	}
	return buf.Bytes()
})

func docSize(i int) int { return 4000 + (i*7919)%2001 }

func docBytes(i int) []byte {
	blk := textBlock()
	size := docSize(i)
	off := (i * 104729) % (len(blk) - size)
	return blk[off : off+size]
}

type synthDocs struct{ n int }

func (s synthDocs) Open(_ context.Context, _, name string) (io.ReadCloser, error) {
	var i int
	if _, err := fmt.Sscanf(name, "d%07d.txt", &i); err != nil || i >= s.n {
		return nil, fmt.Errorf("no document %s: %w", name, os.ErrNotExist)
	}
	return sizedReader{bytes.NewReader(docBytes(i))}, nil
}

type sizedReader struct{ *bytes.Reader }

func (s sizedReader) Close() error { return nil }

// synthExport streams the export JSON for n documents without holding it.
func synthExport(n int) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		w := bufio.NewWriter(pw)
		classes := []string{"Billing", "Outage", "Account", "Shipping"}
		fmt.Fprint(w, `{"projectFileVersion":"2022-05-01","stringIndexType":"Utf16CodeUnit","metadata":{"projectKind":"CustomSingleLabelClassification","storageInputContainerName":"bench","settings":{},"projectName":"Bench","multilingual":false,"description":"synthetic","language":"en-us"},"assets":{"projectKind":"CustomSingleLabelClassification","classes":[`)
		for i, c := range classes {
			if i > 0 {
				w.WriteByte(',')
			}
			fmt.Fprintf(w, `{"category":%q}`, c)
		}
		w.WriteString(`],"documents":[`)
		for i := range n {
			if i > 0 {
				w.WriteByte(',')
			}
			fmt.Fprintf(w, `{"location":"d%07d.txt","language":"en-us","dataset":"Train","class":{"category":%q}}`, i, classes[i%len(classes)])
		}
		w.WriteString(`]}}`)
		pw.CloseWithError(w.Flush())
	}()
	return pr
}

// allDocs streams every document's bytes back to back (the raw baseline).
func allDocs(n int) io.Reader {
	i := 0
	var cur *bytes.Reader
	return readerFunc(func(p []byte) (int, error) {
		for cur == nil || cur.Len() == 0 {
			if i == n {
				return 0, io.EOF
			}
			cur = bytes.NewReader(docBytes(i))
			i++
		}
		return cur.Read(p)
	})
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// memPeak samples the Go heap while running fn.
func memPeak(fn func()) (peakHeap uint64, allocated uint64) {
	runtime.GC()
	var start runtime.MemStats
	runtime.ReadMemStats(&start)
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	fn()
	close(stop)
	<-done
	var end runtime.MemStats
	runtime.ReadMemStats(&end)
	return peak.Load(), end.TotalAlloc - start.TotalAlloc
}

// resetPeakRSS and peakRSS read the kernel's high-water mark of resident
// memory, which also counts what the Go heap does not (the SDK's mmap'd
// upload buffers). Linux only; zero elsewhere.
func resetPeakRSS() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

func peakRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkBackupToAzurite backs up the synthetic project into Azurite
// (archive written in one pass, staged, uploaded write-once) and, in the
// same run, uploads the same document bytes raw to the same store. It
// reports throughput of both, their ratio, the peak Go heap and peak RSS.
func BenchmarkBackupToAzurite(b *testing.B) {
	n := benchDocCount(b)
	var total int64
	for i := range n {
		total += int64(docSize(i))
	}
	ctx := context.Background()
	store, err := storeopen.Open(ctx, azuritetest.Shared(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	container := blobstoretest.ContainerName(b)
	if err := store.EnsureContainer(ctx, container); err != nil {
		b.Fatal(err)
	}
	cat := backup.NewCatalog(store, container)
	cat.TempDir = b.TempDir()
	mb := float64(total) / 1e6

	var rawDur, bakDur time.Duration
	var heapPeak, rssPeak, alloc uint64
	var archive int64
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		start := time.Now()
		if _, err := store.Put(ctx, container, fmt.Sprintf("raw/%d", it), allDocs(n), &blobstore.PutOptions{IfNoneMatch: true}); err != nil {
			b.Fatal(err)
		}
		rawDur += time.Since(start)

		resetPeakRSS()
		var res backup.SaveResult
		var serr error
		h, a := memPeak(func() {
			start = time.Now()
			res, serr = cat.Save(ctx, synthExport(n), synthDocs{n}, backup.ManifestInfo{
				Source: "primary", APIVersion: "2023-04-01", ExportedAt: time.Date(2026, 11, 1, 0, 0, it, 0, time.UTC),
			}, nil)
			bakDur += time.Since(start)
		})
		if serr != nil {
			b.Fatal(serr)
		}
		if res.Manifest.Counts.DocumentsStored != n {
			b.Fatalf("stored %d documents, want %d", res.Manifest.Counts.DocumentsStored, n)
		}
		heapPeak, alloc = max(heapPeak, h), a
		rssPeak = max(rssPeak, peakRSS())
		archive = res.Ref.Size
	}
	b.StopTimer()
	raw := mb * float64(b.N) / rawDur.Seconds()
	bak := mb * float64(b.N) / bakDur.Seconds()
	b.ReportMetric(float64(n), "docs")
	b.ReportMetric(mb, "doc-MB")
	b.ReportMetric(float64(archive)/1e6, "archive-MB")
	b.ReportMetric(bak, "backup-MB/s")
	b.ReportMetric(raw, "raw-MB/s")
	b.ReportMetric(bak/raw, "backup/raw")
	b.ReportMetric(float64(heapPeak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(rssPeak)/(1<<20), "peak-rss-MiB")
	b.ReportMetric(float64(alloc)/(1<<20), "alloc-MiB")
}

// BenchmarkVerify verifies an archive of the synthetic project read from a
// file, reporting throughput against reading the same file raw in the same
// run, and the peak Go heap.
func BenchmarkVerify(b *testing.B) {
	n := benchDocCount(b)
	path := b.TempDir() + "/bench.tar.gz"
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := backup.Write(context.Background(), f, synthExport(n), synthDocs{n}, backup.ManifestInfo{Source: "primary", TempDir: b.TempDir()}); err != nil {
		b.Fatal(err)
	}
	size, _ := f.Seek(0, io.SeekCurrent)
	f.Close()

	var rawDur, verDur time.Duration
	var heapPeak uint64
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		rf, _ := os.Open(path)
		io.Copy(io.Discard, rf)
		rf.Close()
		rawDur += time.Since(start)

		var verr error
		h, _ := memPeak(func() {
			vf, _ := os.Open(path)
			defer vf.Close()
			start := time.Now()
			_, verr = backup.Verify(bufio.NewReaderSize(vf, 1<<20), nil)
			verDur += time.Since(start)
		})
		if verr != nil {
			b.Fatal(verr)
		}
		heapPeak = max(heapPeak, h)
	}
	b.StopTimer()
	mb := float64(size) / 1e6
	b.ReportMetric(float64(n), "docs")
	b.ReportMetric(mb*float64(b.N)/verDur.Seconds(), "verify-archive-MB/s")
	b.ReportMetric(mb*float64(b.N)/rawDur.Seconds(), "read-archive-MB/s")
	b.ReportMetric(rawDur.Seconds()/verDur.Seconds(), "verify/read")
	b.ReportMetric(float64(heapPeak)/(1<<20), "peak-heap-MiB")
}

// BenchmarkPrune measures what the verification cache saves: a prune of
// LANGSYNC_BENCH_BACKUPS (default 10) backups of the synthetic project in
// Azurite, first cold (every archive read and verified), then warm (only
// the cache records read; nothing to delete, so no archive is read).
func BenchmarkPrune(b *testing.B) {
	n := benchDocCount(b)
	k := 10
	if s := os.Getenv("LANGSYNC_BENCH_BACKUPS"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v > 0 {
			k = v
		}
	}
	ctx := context.Background()
	s, err := storeopen.Open(ctx, azuritetest.Shared(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	c := backup.NewCatalog(s, blobstoretest.ContainerName(b))
	c.StateContainer = c.Container + "-state"
	c.TempDir = b.TempDir()
	for _, name := range []string{c.Container, c.StateContainer} {
		if err := s.EnsureContainer(ctx, name); err != nil {
			b.Fatal(err)
		}
	}
	var archiveBytes int64
	for i := range k {
		res, err := c.Save(ctx, synthExport(n), synthDocs{n}, backup.ManifestInfo{Source: "primary", ExportedAt: time.Date(2026, 11, 1+i, 0, 0, 0, 0, time.UTC)}, nil)
		if err != nil {
			b.Fatal(err)
		}
		archiveBytes += res.Ref.Size
	}
	policy := backup.Retention{KeepLast: k}
	var cold, warm time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if _, err := c.Prune(ctx, "", policy, &backup.PruneOptions{Reverify: true}); err != nil {
			b.Fatal(err)
		}
		cold += time.Since(start)
		start = time.Now()
		if _, err := c.Prune(ctx, "", policy, nil); err != nil {
			b.Fatal(err)
		}
		warm += time.Since(start)
	}
	b.StopTimer()
	b.ReportMetric(float64(k), "backups")
	b.ReportMetric(float64(archiveBytes)/1e6, "archive-MB")
	b.ReportMetric(cold.Seconds()/float64(b.N), "cold-prune-s")
	b.ReportMetric(warm.Seconds()/float64(b.N), "warm-prune-s")
}
