package backup_test

import (
	"io"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/backup"
)

// BenchmarkFingerprintExport measures the streaming canonical pass over the
// synthetic project's export JSON against reading the same JSON raw.
func BenchmarkFingerprintExport(b *testing.B) {
	n := benchDocCount(b)
	var size int64
	var raw, fp time.Duration
	for range b.N {
		start := time.Now()
		size, _ = io.Copy(io.Discard, synthExport(n))
		raw += time.Since(start)
		start = time.Now()
		if _, err := backup.Fingerprint(synthExport(n), nil); err != nil {
			b.Fatal(err)
		}
		fp += time.Since(start)
	}
	b.ReportMetric(float64(size)/1e6, "export-MB")
	b.ReportMetric(float64(size)*float64(b.N)/1e6/fp.Seconds(), "fingerprint-MB/s")
	b.ReportMetric(raw.Seconds()/fp.Seconds(), "fingerprint/generate")
}
