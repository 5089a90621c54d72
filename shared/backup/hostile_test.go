package backup_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"strings"
	"testing"

	"github.com/langsync/langsync/shared/backup"
)

// rebuild re-packs a valid archive's entries after edit, keeping the
// original manifest unless edit changes it.
func rebuild(t *testing.T, archive []byte, edit func([]entry) []entry) []byte {
	t.Helper()
	return buildTarGz(t, edit(readEntries(t, archive)))
}

func TestVerifyNamesTheBadFile(t *testing.T) {
	archive, _ := mustWrite(t, readFixture(t, "studio-export.json"), studioDocs())
	replace := func(name, body string) func([]entry) []entry {
		return func(es []entry) []entry {
			for i := range es {
				if es[i].name == name {
					es[i].body = body
				}
			}
			return es
		}
	}
	drop := func(name string) func([]entry) []entry {
		return func(es []entry) []entry {
			var out []entry
			for _, e := range es {
				if e.name != name {
					out = append(out, e)
				}
			}
			return out
		}
	}
	tests := []struct {
		name     string
		archive  []byte
		wantFile string
	}{
		{"tampered document", rebuild(t, archive, replace("documents/t02.txt", "The website is up again")), "documents/t02.txt"},
		{"tampered export", rebuild(t, archive, replace("project.json", strings.Replace(string(readFixture(t, "studio-export.json")), "Billing", "Billinx", 1))), "project.json"},
		{"missing document", rebuild(t, archive, drop("documents/t01.txt")), "documents/t01.txt"},
		{"missing manifest", rebuild(t, archive, drop("manifest.json")), "manifest.json"},
		{"missing project", rebuild(t, archive, drop("project.json")), "project.json"},
		{"extra file", rebuild(t, archive, func(es []entry) []entry {
			return append([]entry{{name: "documents/extra.txt", body: "sneaky"}}, es...)
		}), "documents/extra.txt"},
		{"forged fingerprint", rebuild(t, archive, func(es []entry) []entry {
			for i := range es {
				if es[i].name == "manifest.json" {
					es[i].body = strings.Replace(es[i].body, `"fingerprint":"`, `"fingerprint":"00`, 1)
				}
			}
			return es
		}), "manifest.json"},
		{"truncated", archive[:len(archive)/2], "archive"},
		{"truncated trailer", archive[:len(archive)-4], "archive"},
		{"flipped byte", func() []byte {
			b := bytes.Clone(archive)
			b[len(b)/2] ^= 0xff
			return b
		}(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := emptyTempDir(t)
			_, err := backup.Verify(bytes.NewReader(tt.archive), nil)
			if !errors.Is(err, backup.ErrCorrupt) {
				t.Fatalf("Verify = %v, want ErrCorrupt", err)
			}
			var ve *backup.VerifyError
			if tt.wantFile != "" && (!errors.As(err, &ve) || ve.File != tt.wantFile) {
				t.Fatalf("Verify = %v, want the error to name %s", err, tt.wantFile)
			}
			if a, err := backup.Open(bytes.NewReader(tt.archive), nil); err == nil {
				a.Close()
				t.Fatal("Open accepted what Verify rejected")
			}
			check()
		})
	}
}

func TestFutureFormatVersion(t *testing.T) {
	archive, _ := mustWrite(t, readFixture(t, "studio-export.json"), nil)
	b := rebuild(t, archive, func(es []entry) []entry {
		for i := range es {
			if es[i].name == "manifest.json" {
				es[i].body = strings.Replace(es[i].body, `"formatVersion":1`, `"formatVersion":2`, 1)
			}
		}
		return es
	})
	_, err := backup.Verify(bytes.NewReader(b), nil)
	if !errors.Is(err, backup.ErrFormat) || !strings.Contains(err.Error(), "upgrade") {
		t.Fatalf("Verify of a version 2 backup: %v", err)
	}
}

func deepJSON(depth int) string {
	return `{"projectFileVersion":"2022-05-01","metadata":{"projectName":"P","projectKind":"CustomEntityRecognition"},"x":` +
		strings.Repeat("[", depth) + strings.Repeat("]", depth) + "}"
}

func gzipBomb(t testing.TB, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: "documents/zeros.txt", Mode: 0o644, Size: int64(n), Typeflag: tar.TypeReg})
	zeros := make([]byte, 1<<20)
	for w := 0; w < n; w += len(zeros) {
		tw.Write(zeros[:min(len(zeros), n-w)])
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func TestHostileArchives(t *testing.T) {
	valid, _ := mustWrite(t, readFixture(t, "studio-export.json"), studioDocs())
	many := make([]entry, 50)
	for i := range many {
		many[i] = entry{name: "documents/" + strings.Repeat("a", i+1) + ".txt", body: "x"}
	}
	tests := []struct {
		name    string
		archive []byte
		limits  *backup.Limits
		want    error
		wantMsg string
	}{
		{"archive too large", valid, &backup.Limits{MaxArchiveBytes: int64(len(valid) / 2)}, backup.ErrLimit, "archive size"},
		{"gzip bomb", gzipBomb(t, 64<<20), &backup.Limits{MaxUncompressedBytes: 1 << 20}, backup.ErrLimit, "decompressed size"},
		{"too many files", buildTarGz(t, many), &backup.Limits{MaxFiles: 10}, backup.ErrLimit, "file count"},
		{"project.json too large", buildTarGz(t, []entry{{name: "project.json", body: deepJSON(1) + strings.Repeat(" ", 4096)}}), &backup.Limits{MaxJSONBytes: 1024}, backup.ErrLimit, "JSON size"},
		{"project.json too deep", buildTarGz(t, []entry{{name: "project.json", body: deepJSON(200)}}), nil, backup.ErrLimit, "JSON depth"},
		{"manifest.json too deep", buildTarGz(t, []entry{{name: "manifest.json", body: `{"format":"langsync-backup","x":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`}}), nil, backup.ErrLimit, "JSON depth"},
		{"manifest lists too many files", buildTarGz(t, []entry{{name: "manifest.json", body: `{"files":[` + strings.Repeat(`{"path":"x"},`, 20) + `{"path":"y"}]}`}}), &backup.Limits{MaxFiles: 10}, backup.ErrLimit, "file count"},
		{"dot-dot path", buildTarGz(t, []entry{{name: "../evil.sh", body: "x"}}), nil, backup.ErrUnsafePath, ".."},
		{"dot-dot inside documents", buildTarGz(t, []entry{{name: "documents/../../etc/cron.d/x", body: "x"}}), nil, backup.ErrUnsafePath, ".."},
		{"absolute path", buildTarGz(t, []entry{{name: "/etc/passwd", body: "x"}}), nil, backup.ErrUnsafePath, "absolute"},
		{"symlink", buildTarGz(t, []entry{{name: "documents/a.txt", typeflag: tar.TypeSymlink, link: "/etc/passwd"}}), nil, backup.ErrUnsafePath, "links"},
		{"hard link", buildTarGz(t, []entry{{name: "documents/a.txt", typeflag: tar.TypeLink, link: "project.json"}}), nil, backup.ErrUnsafePath, "links"},
		{"directory", buildTarGz(t, []entry{{name: "documents/", typeflag: tar.TypeDir}}), nil, backup.ErrUnsafePath, "directories"},
		{"duplicate entry", buildTarGz(t, []entry{{name: "documents/a.txt", body: "1"}, {name: "documents/a.txt", body: "2"}}), nil, backup.ErrUnsafePath, "duplicate"},
		{"unexpected name", buildTarGz(t, []entry{{name: "run.sh", body: "x"}}), nil, backup.ErrUnsafePath, "unexpected"},
		{"empty path segment", buildTarGz(t, []entry{{name: "documents/a//b.txt", body: "x"}}), nil, backup.ErrUnsafePath, "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := emptyTempDir(t)
			for _, fn := range []struct {
				name string
				run  func() error
			}{
				{"Verify", func() error { _, err := backup.Verify(bytes.NewReader(tt.archive), tt.limits); return err }},
				{"Open", func() error {
					a, err := backup.Open(bytes.NewReader(tt.archive), tt.limits)
					if err == nil {
						a.Close()
					}
					return err
				}},
			} {
				err := fn.run()
				if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("%s = %v, want %v mentioning %q", fn.name, err, tt.want, tt.wantMsg)
				}
			}
			check()
		})
	}
}
