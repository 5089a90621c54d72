package backup_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/langsync/langsync/shared/backup"
	"github.com/langsync/langsync/shared/langsync"
)

// TestBadNamesRefusedOnRead: a backup (or plain export) whose project name
// breaks the service's rules is refused by Verify and Open, naming the
// problem, however it was written.
func TestBadNamesRefusedOnRead(t *testing.T) {
	tests := []struct{ name, project, want string }{
		{"DotDot", "..", `project name ".." is only dots`},
		{"Traversal", "a/../../b", `has '/' at offset 1`},
		{"TooLong", strings.Repeat("p", 300), "is 300 characters long: the limit is 50"},
		{"Global", "global", "reserved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			export := renamed(t, tt.project)
			archive, _ := mustWrite(t, export, studioDocs())
			for _, in := range []struct {
				what string
				run  func() error
			}{
				{"Verify", func() error { _, err := backup.Verify(bytes.NewReader(archive), nil); return err }},
				{"Open archive", func() error { _, err := backup.Open(bytes.NewReader(archive), nil); return err }},
				{"Open JSON", func() error { _, err := backup.Open(bytes.NewReader(export), nil); return err }},
			} {
				err := in.run()
				if !errors.Is(err, langsync.ErrInvalidName) || !errors.Is(err, backup.ErrCorrupt) || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("%s = %v, want an invalid-name error saying %q", in.what, err, tt.want)
				}
				if err != nil && len(err.Error()) > 250 {
					t.Errorf("%s: the error repeats the whole name: %d bytes", in.what, len(err.Error()))
				}
			}
		})
	}
	t.Run("ModelAndSource", func(t *testing.T) {
		var buf bytes.Buffer
		if _, err := backup.Write(context.Background(), &buf, bytes.NewReader(readFixture(t, "studio-export.json")), nil,
			backup.ManifestInfo{Source: "../x", TrainedModelLabel: "v1"}); err != nil {
			t.Fatal(err)
		}
		if _, err := backup.Verify(bytes.NewReader(buf.Bytes()), nil); !errors.Is(err, langsync.ErrInvalidName) || !strings.Contains(err.Error(), "source resource name") {
			t.Errorf("Verify of a backup with source ../x = %v", err)
		}
	})
}

// TestOpenWritesNothingToTemp: Open verifies an archive in one streaming
// pass and writes nothing to disk, so a hostile archive is refused with
// its own error even where no temporary file can be created; a valid one
// opens, and its documents are read in a second, checked pass.
func TestOpenWritesNothingToTemp(t *testing.T) {
	valid, _ := mustWrite(t, readFixture(t, "studio-export.json"), studioDocs())
	many := make([]entry, 101)
	for i := range many {
		many[i] = entry{name: "documents/" + strings.Repeat("a", i+1) + ".txt", body: "x"}
	}
	tests := []struct {
		name    string
		archive []byte
		limits  *backup.Limits
		wantMsg string
	}{
		{"gzip bomb", gzipBomb(t, 64<<20), &backup.Limits{MaxUncompressedBytes: 32 << 20}, "decompressed size"},
		{"one huge document", gzipBomb(t, 8<<20), &backup.Limits{MaxDocumentBytes: 1 << 20}, "document size"},
		{"many tiny entries", buildTarGz(t, many), &backup.Limits{MaxFiles: 100}, "file count"},
		{"undeclared document", rebuild(t, valid, func(es []entry) []entry {
			return append([]entry{{name: "documents/extra.txt", body: strings.Repeat("x", 1<<20)}}, es...)
		}), nil, "not in the manifest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			unwritableTempDir(t)
			_, err := backup.Open(bytes.NewReader(tt.archive), tt.limits)
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Open = %v, want an error about %q (not a temp-file error)", err, tt.wantMsg)
			}
			_, err = backup.OpenSize(bytes.NewBuffer(tt.archive), int64(len(tt.archive)), tt.limits)
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("OpenSize = %v, want an error about %q", err, tt.wantMsg)
			}
		})
	}
	t.Run("valid", func(t *testing.T) {
		unwritableTempDir(t)
		a, err := backup.Open(bytes.NewReader(valid), nil)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		n := 0
		if err := a.EachDocument(context.Background(), func(backup.File, []byte) error { n++; return nil }); err != nil || n != 4 {
			t.Fatalf("EachDocument: %d documents, %v", n, err)
		}
		// A stream cannot be read twice: documents need a re-readable input.
		s, err := backup.Open(bytes.NewBuffer(valid), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.EachDocument(context.Background(), func(backup.File, []byte) error { return nil }); !errors.Is(err, backup.ErrNotReReadable) {
			t.Fatalf("EachDocument of a stream = %v", err)
		}
	})
}

// TestEachDocumentChecksTheSecondPass: when the input changes between the
// verifying pass and the document pass, no changed byte reaches fn.
func TestEachDocumentChecksTheSecondPass(t *testing.T) {
	valid, _ := mustWrite(t, readFixture(t, "studio-export.json"), studioDocs())
	tampered := rebuild(t, valid, func(es []entry) []entry {
		for i := range es {
			if es[i].name == "documents/t02.txt" {
				es[i].body = strings.Repeat("!", len(es[i].body))
			}
		}
		return es
	})
	src := &swapReader{b: valid}
	a, err := backup.OpenAt(src, int64(len(valid)), nil)
	if err != nil {
		t.Fatal(err)
	}
	src.b = tampered
	var seen []string
	err = a.EachDocument(context.Background(), func(f backup.File, body []byte) error {
		seen = append(seen, f.Document())
		if strings.Contains(string(body), "!!!") {
			t.Fatalf("tampered document %s reached fn", f.Path)
		}
		return nil
	})
	if !errors.Is(err, backup.ErrCorrupt) || !strings.Contains(err.Error(), "documents/t02.txt") {
		t.Fatalf("EachDocument over a changed input = %v, want a verification error naming documents/t02.txt", err)
	}
}

// swapReader is an io.ReaderAt whose content a test can replace.
type swapReader struct{ b []byte }

func (s *swapReader) ReadAt(p []byte, off int64) (int, error) {
	return bytes.NewReader(s.b).ReadAt(p, off)
}

// BenchmarkOpenRefusesHostile reports what refusing hostile input costs
// Open: alloc-MB per refusal (total heap allocated, an upper bound of the
// peak) and the temp files written (always 0: Open writes nothing).
func BenchmarkOpenRefusesHostile(b *testing.B) {
	many := make([]entry, 20_001)
	for i := range many {
		many[i] = entry{name: fmt.Sprintf("documents/d%06d.txt", i), body: "x"}
	}
	bigJSON := append([]byte(`{"projectFileVersion":"2022-05-01","pad":"`), bytes.Repeat([]byte("x"), 32<<20)...)
	cases := []struct {
		name   string
		in     []byte
		sized  bool
		limits *backup.Limits
	}{
		{"GzipBomb", gzipBomb(b, 256<<20), false, &backup.Limits{MaxUncompressedBytes: 128 << 20}},
		{"ManyTinyEntries", buildTarGz(b, many), false, &backup.Limits{MaxFiles: 20_000}},
		{"OversizedJSONStream", bigJSON, false, &backup.Limits{MaxJSONBytes: 16 << 20}},
		{"OversizedJSONSized", bigJSON, true, &backup.Limits{MaxJSONBytes: 16 << 20}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			tmp := b.TempDir()
			b.Setenv("TMPDIR", tmp)
			var ms0, ms1 runtime.MemStats
			var alloc uint64
			for range b.N {
				runtime.ReadMemStats(&ms0)
				var err error
				if c.sized {
					_, err = backup.OpenSize(bytes.NewBuffer(c.in), int64(len(c.in)), c.limits)
				} else {
					_, err = backup.Open(bytes.NewBuffer(c.in), c.limits)
				}
				runtime.ReadMemStats(&ms1)
				alloc += ms1.TotalAlloc - ms0.TotalAlloc
				if !errors.Is(err, backup.ErrLimit) {
					b.Fatalf("Open = %v, want a limit error", err)
				}
			}
			left, _ := os.ReadDir(tmp)
			b.ReportMetric(float64(alloc)/float64(b.N)/(1<<20), "alloc-MB/op")
			b.ReportMetric(float64(len(left)), "temp-files")
		})
	}
}
