package app_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/authoring"
	"github.com/langsync/langsync/shared/backup"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/sample"
)

// namedArchive writes a backup of the sample export renamed to project
// (no documents): what a hostile or broken tool could drop.
func namedArchive(t *testing.T, p *sample.Project, project string) []byte {
	t.Helper()
	export := bytes.Replace(p.JSON, []byte(`"projectName":"`+p.Name+`"`), []byte(`"projectName":`+quoteJSON(project)), 1)
	if bytes.Equal(export, p.JSON) {
		export = bytes.Replace(p.JSON, []byte(`"projectName": "`+p.Name+`"`), []byte(`"projectName": `+quoteJSON(project)), 1)
	}
	if bytes.Equal(export, p.JSON) {
		t.Fatal("the sample export has no projectName to rename")
	}
	var buf bytes.Buffer
	if _, err := backup.Write(context.Background(), &buf, bytes.NewReader(export), nil, backup.ManifestInfo{Source: "primary"}); err != nil {
		t.Fatalf("writing a backup of project %.20q: %v", project, err)
	}
	return buf.Bytes()
}

func quoteJSON(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// unwritableTemp points TMPDIR at a regular file: creating any temporary
// file or directory then fails (even as root), so a restore that gets past
// it wrote nothing to temp.
func unwritableTemp(t *testing.T) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", f)
}

// TestDroppedBadNamesMovedAsideOnce: a dropped backup whose project name
// is invalid is refused when it is read (before any request to a target)
// and moved to failed/ with its reason, once; a second trigger finds
// nothing to do, so there is no retry loop.
func TestDroppedBadNamesMovedAsideOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := sample.Tickets()
	r := newRestoreRig(t, p)
	a := r.app(nil)
	state := a.Config.Containers.State
	tests := []struct{ name, project, file, want string }{
		{"DotDot", "..", "third/dotdot.tar.gz", `project name ".." is only dots`},
		{"Traversal", "a/../../b", "third/traversal.tar.gz", `project name "a/../../b" has '/'`},
		{"TooLong", strings.Repeat("p", 300), "third/long.tar.gz", "is 300 characters long: the limit is 50"},
		{"UnderRestoreRoot", "..", "root.tar.gz", `project name ".." is only dots`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearFailed(t, a)
			r.third.Server.ResetRequests()
			key := langsync.RestorePrefix + tt.file
			if _, err := a.Store.Put(ctx, state, key, bytes.NewReader(namedArchive(t, p, tt.project)), nil); err != nil {
				t.Fatal(err)
			}
			_, err := a.RestoreDropped(ctx, key)
			if !errors.Is(err, app.ErrRefused) || !errors.Is(err, langsync.ErrInvalidName) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("RestoreDropped = %v, want a refusal for the name saying %q", err, tt.want)
			}
			if n := len(r.third.Server.Requests()); n != 0 {
				t.Errorf("the target received %d requests for a drop with a bad name", n)
			}
			flat := strings.ReplaceAll(tt.file, "/", "~")
			for _, suffix := range []string{"restore-" + flat, "restore-" + flat + ".reason.json"} {
				if n := countSuffix(t, a, langsync.FailedPrefix, suffix); n != 1 {
					t.Errorf("failed/ holds %d of *%s, want 1", n, suffix)
				}
			}
			if left, _ := a.Store.List(ctx, state, langsync.RestorePrefix); len(left) != 0 {
				t.Fatalf("restore/ still holds %v", left)
			}
			// The next trigger (a restart, a retried event) has nothing to do.
			if nexts, err := a.RestoreDropped(ctx, key); err != nil || len(nexts) != 0 {
				t.Fatalf("second trigger: %v %v", nexts, err)
			}
			if n := countSuffix(t, a, langsync.FailedPrefix, "restore-"+flat); n != 1 {
				t.Errorf("after a second trigger failed/ holds %d copies, want 1", n)
			}
		})
	}
}

// tinyEntries is a tar.gz of n one-byte documents.
func tinyEntries(t *testing.T, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for i := range n {
		name := "documents/" + strings.Repeat("d", 1+i%40) + "-" + string(rune('a'+i%26)) + "/" + itoa(i) + ".txt"
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: 1, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte("x"))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// bomb is a tar.gz whose one document inflates to n zero bytes.
func bomb(t *testing.T, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: "documents/zeros.txt", Mode: 0o644, Size: int64(n), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for w := 0; w < n; w += len(zeros) {
		tw.Write(zeros[:min(len(zeros), n-w)])
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// TestHostileDropsWriteNothing: a gzip bomb, a tar of very many tiny
// entries and an oversized JSON are refused by the same streaming
// verification as `backups verify`, before anything is written: with no
// usable temporary directory at all, each is still refused for what it
// is and moved aside. A valid archive drop also starts its restore
// without temp.
func TestHostileDropsWriteNothing(t *testing.T) {
	ctx := context.Background()
	p := sample.Tickets()
	r := newRestoreRig(t, p)
	lim := &backup.Limits{MaxUncompressedBytes: 16 << 20, MaxFiles: 500, MaxJSONBytes: 1 << 20}
	a, err := app.New(ctx, r.cfg, &app.Options{Authoring: &authoring.ClientOptions{Budget: r.budget}, Limits: lim})
	if err != nil {
		t.Fatal(err)
	}
	state := a.Config.Containers.State
	bigJSON := append([]byte(`{"projectFileVersion":"2022-05-01","pad":"`), bytes.Repeat([]byte("x"), 2<<20)...)
	bigJSON = append(bigJSON, `"}`...)
	tests := []struct {
		name string
		body []byte
		want string
	}{
		{"GzipBomb", bomb(t, 64<<20), "decompressed size exceeds the limit"},
		{"ManyTinyEntries", tinyEntries(t, 501), "file count exceeds the limit of 500"},
		{"OversizedJSON", bigJSON, "JSON size exceeds the limit"},
	}
	unwritableTemp(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearFailed(t, a)
			key := langsync.RestorePrefix + "third/" + tt.name
			if _, err := a.Store.Put(ctx, state, key, bytes.NewReader(tt.body), nil); err != nil {
				t.Fatal(err)
			}
			_, err := a.RestoreDropped(ctx, key)
			if !errors.Is(err, app.ErrRefused) || !errors.Is(err, backup.ErrLimit) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("RestoreDropped = %v, want a refusal saying %q", err, tt.want)
			}
			if n := countSuffix(t, a, langsync.FailedPrefix, "restore-third~"+tt.name); n != 1 {
				t.Errorf("failed/ holds %d copies of the drop, want 1", n)
			}
			// Kept once, as its own bytes.
			failed, _ := a.Store.List(ctx, state, langsync.FailedPrefix)
			for _, f := range failed {
				if strings.HasSuffix(f.Key, "-restore-third~"+tt.name) && f.Size != int64(len(tt.body)) {
					t.Errorf("kept %d bytes, the drop had %d", f.Size, len(tt.body))
				}
			}
		})
	}

	// A valid archive from the catalog, dropped: verified and kept without
	// a temporary file, and its restore starts.
	t.Setenv("TMPDIR", t.TempDir())
	key := r.replicate(r.app(nil), p.Name).Models[0].Backup
	unwritableTemp(t)
	rc, _, err := a.Store.Get(ctx, a.Config.Containers.Backups, key)
	if err != nil {
		t.Fatal(err)
	}
	archive, _ := io.ReadAll(rc)
	rc.Close()
	if _, err := a.Store.Put(ctx, state, "restore/third/Copy/ok.tar.gz", bytes.NewReader(archive), nil); err != nil {
		t.Fatal(err)
	}
	nexts, err := a.RestoreDropped(ctx, "restore/third/Copy/ok.tar.gz")
	if err != nil || len(nexts) != 1 {
		t.Fatalf("valid archive drop without temp: %v %v", nexts, err)
	}
}

// tempWatch is a reader that, before each read, measures the bytes held in
// dir: the most temp space the reader of r ever used.
type tempWatch struct {
	t   *testing.T
	r   io.Reader
	dir string
	max int64
}

func (w *tempWatch) Read(p []byte) (int, error) {
	ents, err := os.ReadDir(w.dir)
	if err != nil {
		w.t.Fatal(err)
	}
	var n int64
	for _, e := range ents {
		if info, err := e.Info(); err == nil {
			n += info.Size()
		}
	}
	w.max = max(w.max, n)
	return w.r.Read(p)
}

// TestDocumentsStepBoundsTemp: the documents step of a restore keeps the
// archive as stored while it verifies it, so a gzip bomb or an entry
// flood costs temp no more than its compressed size, and no document is
// handed over; a valid archive's documents all arrive.
func TestDocumentsStepBoundsTemp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := &app.BackupArchive{TempDir: dir, Limits: &backup.Limits{MaxUncompressedBytes: 16 << 20, MaxFiles: 500}}
	for name, in := range map[string][]byte{"GzipBomb": bomb(t, 64<<20), "ManyTinyEntries": tinyEntries(t, 501)} {
		t.Run(name, func(t *testing.T) {
			w := &tempWatch{t: t, r: bytes.NewReader(in), dir: dir}
			err := b.Documents(context.Background(), w, func(string, string, []byte) error {
				t.Fatal("a document of a refused archive was handed over")
				return nil
			})
			if !errors.Is(err, backup.ErrLimit) {
				t.Fatalf("Documents = %v, want a limit error", err)
			}
			if w.max > int64(len(in)) {
				t.Fatalf("temp held %d bytes for a %d-byte archive", w.max, len(in))
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Fatalf("temp left %v", left)
			}
		})
	}
	p := sample.Tickets()
	docs := map[string][]byte{}
	var buf bytes.Buffer
	m, err := backup.Write(context.Background(), &buf, bytes.NewReader(p.JSON), mapSource(p), backup.ManifestInfo{Source: "primary"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Documents(context.Background(), &buf, func(_, name string, body []byte) error {
		docs[name] = body
		return nil
	}); err != nil || len(docs) != m.Counts.DocumentsStored || len(docs) == 0 {
		t.Fatalf("Documents of a valid archive: %d of %d, %v", len(docs), m.Counts.DocumentsStored, err)
	}
}

// sampleSource serves the sample's documents.
type sampleSource struct{ p *sample.Project }

func mapSource(p *sample.Project) backup.DocumentSource { return sampleSource{p} }

func (s sampleSource) Open(_ context.Context, _, name string) (io.ReadCloser, error) {
	body, ok := s.p.Docs[name]
	if !ok {
		return nil, os.ErrNotExist
	}
	return io.NopCloser(strings.NewReader(body)), nil
}
