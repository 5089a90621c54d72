package backup_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/langsync/langsync/shared/backup"
)

// FuzzOpen feeds arbitrary bytes to Open and Verify: whatever the input,
// they return an error or a consistent archive, never panic, and stay
// within small limits. `go test` runs the seeds; `go test -fuzz FuzzOpen`
// explores.
func FuzzOpen(f *testing.F) {
	archive, _ := mustWrite(f, readFixture(f, "studio-export.json"), studioDocs())
	f.Add(archive)
	f.Add(archive[:len(archive)/3])
	f.Add(readFixture(f, "studio-export.json"))
	f.Add(readFixture(f, "legacy-2021-11-01-preview-multi.json"))
	f.Add(readFixture(f, "legacy-2021-11-01-preview-ner.json"))
	f.Add([]byte(`{"metadata":{"modelType":"singleClassification"},"assets":{"documents":[{"classifiers":[{},{}]}]}}`))
	f.Add([]byte("\x1f\x8b"))
	lim := &backup.Limits{MaxArchiveBytes: 1 << 20, MaxUncompressedBytes: 4 << 20, MaxFiles: 100, MaxJSONBytes: 1 << 20, MaxJSONDepth: 32}
	f.Fuzz(func(t *testing.T, in []byte) {
		a, err := backup.Open(bytes.NewReader(in), lim)
		if err == nil {
			if a.Manifest == nil || a.Manifest.Project == "" || len(a.Export()) == 0 {
				t.Fatalf("Open accepted %q with manifest %+v", in, a.Manifest)
			}
			n := 0
			if err := a.EachDocument(context.Background(), func(backup.File, []byte) error { n++; return nil }); err != nil || n != len(a.Documents()) {
				t.Fatalf("second read of the verified archive: %d of %d documents, %v", n, len(a.Documents()), err)
			}
			a.Close()
		}
		if m, err := backup.Verify(bytes.NewReader(in), lim); err == nil && m.Project == "" {
			t.Fatal("Verify accepted a manifest without a project")
		}
	})
}
