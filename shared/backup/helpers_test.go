package backup_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/backup"
)

// mapDocs is an in-memory DocumentSource: container -> name -> content.
type mapDocs map[string]map[string]string

func (m mapDocs) Open(_ context.Context, container, name string) (io.ReadCloser, error) {
	c, ok := m[container][name]
	if !ok {
		return nil, fmt.Errorf("no %s/%s: %w", container, name, fs.ErrNotExist)
	}
	// Hide any Size method so Write has to spool unknown-size documents.
	return io.NopCloser(strings.NewReader(c)), nil
}

func studioDocs() mapDocs {
	return mapDocs{"tickets-docs": {
		"t01.txt":        "I was charged twice this month",
		"t02.txt":        "The website is down again",
		"t03.txt":        "How do I change my password?",
		"nested/t04.txt": "Refund please",
	}}
}

func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

var exportedAt = time.Date(2026, 11, 20, 8, 30, 0, 0, time.UTC)

func mustWrite(tb testing.TB, export []byte, docs backup.DocumentSource) ([]byte, *backup.Manifest) {
	tb.Helper()
	var buf bytes.Buffer
	m, err := backup.Write(context.Background(), &buf, bytes.NewReader(export), docs, backup.ManifestInfo{
		Source: "primary", Endpoint: "https://contoso-eastus.cognitiveservices.azure.com/", APIVersion: "2023-04-01",
		ExportedAt: exportedAt,
	})
	if err != nil {
		tb.Fatalf("Write: %v", err)
	}
	return buf.Bytes(), m
}

// entry is one tar entry for hand-built (hostile) archives.
type entry struct {
	name     string
	body     string
	typeflag byte
	link     string
}

func buildTarGz(tb testing.TB, entries []entry) []byte {
	tb.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		tf := e.typeflag
		if tf == 0 {
			tf = tar.TypeReg
		}
		hdr := &tar.Header{Name: e.name, Mode: 0o644, Typeflag: tf, Linkname: e.link, ModTime: exportedAt}
		if tf == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			tb.Fatal(err)
		}
		if tf == tar.TypeReg {
			io.WriteString(tw, e.body)
		}
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// readEntries lists a valid archive's entries in order with their bodies.
func readEntries(tb testing.TB, archive []byte) []entry {
	tb.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		tb.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var out []entry
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			tb.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out = append(out, entry{name: hdr.Name, body: string(b)})
	}
}

// emptyTempDir points TMPDIR at a fresh directory and returns a check that
// nothing was left in it.
func emptyTempDir(t *testing.T) func() {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	return func() {
		t.Helper()
		left, _ := os.ReadDir(dir)
		if len(left) != 0 {
			t.Errorf("%d files left behind in the temporary directory (first %s)", len(left), left[0].Name())
		}
	}
}

// unwritableTempDir points TMPDIR at a regular file, so that any attempt to
// create a temporary file or directory fails (even as root): a reader that
// passes with it wrote nothing to temp.
func unwritableTempDir(t *testing.T) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", f)
}

// renamed returns the fixture export with its project renamed (JSON-escaped).
func renamed(tb testing.TB, name string) []byte {
	tb.Helper()
	q, _ := json.Marshal(name)
	return bytes.Replace(readFixture(tb, "studio-export.json"), []byte(`"projectName": "Tickets"`), []byte(`"projectName": `+string(q)), 1)
}
