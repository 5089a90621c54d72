package backup

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"
)

// DocumentSource reads labelled documents from a resource's linked storage.
// A missing document is an error matching fs.ErrNotExist. When the returned
// reader has a Size() int64 or Stat() (fs.FileInfo, error) method its size
// is taken from there; otherwise the document is spooled to a temporary
// file first (a tar header needs the size before the content).
type DocumentSource interface {
	Open(ctx context.Context, container, name string) (io.ReadCloser, error)
}

// compressionLevel trades archive size for speed; documents are plain text
// and compress well even at the fastest level.
const compressionLevel = gzip.BestSpeed

// Write streams an archive of the export (and, when docs is not nil, of
// every document it references) to w in one pass. Memory stays constant
// apart from a few bytes per document; the export is spooled to a
// temporary file because the tar header needs its size. The manifest is
// written last and returned.
func Write(ctx context.Context, w io.Writer, export io.Reader, docs DocumentSource, info ManifestInfo) (*Manifest, error) {
	lim := DefaultLimits()
	spool, err := os.CreateTemp(info.TempDir, "langsync-export-*.json")
	if err != nil {
		return nil, fmt.Errorf("backup: spooling the export: %w", err)
	}
	defer os.Remove(spool.Name())
	defer spool.Close()

	eh := sha256.New()
	src := &limitReader{r: export, max: lim.MaxJSONBytes, what: "JSON size"}
	scan, err := scanExport(io.TeeReader(src, io.MultiWriter(spool, eh)), lim.MaxJSONDepth)
	if err != nil {
		return nil, fmt.Errorf("backup: reading the export: %w", err)
	}
	if err := scan.validate(); err != nil {
		return nil, err
	}
	exportSize, err := spool.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, fmt.Errorf("backup: spooling the export: %w", err)
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("backup: spooling the export: %w", err)
	}

	exported := info.ExportedAt
	if exported.IsZero() {
		exported = time.Now()
	}
	exported = exported.UTC().Truncate(time.Second)
	m := &Manifest{
		Format: FormatName, FormatVersion: FormatVersion,
		Project: scan.projectName, ProjectKind: scan.projectKind,
		Source:     Source{Name: info.Source, EndpointHost: hostOf(info.Endpoint)},
		APIVersion: info.APIVersion, TrainedModelLabel: info.TrainedModelLabel,
		ExportedAt: exported, ProjectTimestamps: info.ProjectTimestamps,
		StorageContainer: scan.container,
		Counts: Counts{Documents: scan.documents, Classes: scan.classes, Entities: scan.entities,
			Intents: scan.intents, Utterances: scan.utterances},
	}

	gz, _ := gzip.NewWriterLevel(w, compressionLevel)
	tw := tar.NewWriter(gz)
	// One copy buffer and one hasher for every entry: a per-document
	// allocation would dominate the garbage for projects of many small files.
	buf := make([]byte, 64<<10)
	h := sha256.New()
	put := func(name string, size int64, r io.Reader) (File, error) {
		hdr := &tar.Header{Name: name, Mode: 0o644, Size: size, ModTime: exported, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return File{}, err
		}
		h.Reset()
		n, err := io.CopyBuffer(io.MultiWriter(tw, h), ctxReader{ctx, r}, buf)
		if err != nil {
			return File{}, err
		}
		if n != size {
			return File{}, fmt.Errorf("read %d bytes, expected %d (the source changed while being read)", n, size)
		}
		return File{Path: name, SHA256: hex.EncodeToString(h.Sum(nil)), Size: size}, nil
	}

	f, err := put(projectName, exportSize, spool)
	if err != nil {
		return nil, fmt.Errorf("backup: writing %s: %w", projectName, err)
	}
	if got := hex.EncodeToString(eh.Sum(nil)); got != f.SHA256 {
		return nil, fmt.Errorf("backup: the spooled export changed on disk (sha256 %s, read %s)", got, f.SHA256)
	}
	m.Files = append(m.Files, f)

	fp := newFingerprinter(scan.canonical)
	if docs != nil {
		container := info.DocumentContainer
		if container == "" {
			container = scan.container
		}
		if container == "" && len(scan.locations) > 0 {
			return nil, errors.New("backup: the export has no metadata.storageInputContainerName to read its documents from; set ManifestInfo.DocumentContainer")
		}
		locs := slices.Clone(scan.locations)
		slices.Sort(locs)
		locs = slices.Compact(locs)
		var docSpool *os.File
		defer func() {
			if docSpool != nil {
				docSpool.Close()
				os.Remove(docSpool.Name())
			}
		}()
		for _, loc := range locs {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("backup: %w", err)
			}
			if err := checkLocation(loc); err != nil {
				return nil, fmt.Errorf("backup: the export names document %q: %w", loc, err)
			}
			rc, err := docs.Open(ctx, container, loc)
			if errors.Is(err, fs.ErrNotExist) && info.AllowMissingDocuments {
				m.MissingDocuments = append(m.MissingDocuments, loc)
				continue
			}
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil, fmt.Errorf("backup: document %q named by the export is missing from container %q (restore it, or allow missing documents): %w", loc, container, err)
				}
				return nil, fmt.Errorf("backup: reading document %q: %w", loc, err)
			}
			r, size, err := sized(rc, &docSpool, info.TempDir)
			if err != nil {
				rc.Close()
				return nil, fmt.Errorf("backup: reading document %q: %w", loc, err)
			}
			f, err := put(docsPrefix+loc, size, r)
			rc.Close()
			if err != nil {
				return nil, fmt.Errorf("backup: writing document %q: %w", loc, err)
			}
			if err := fp.add(loc, f.SHA256); err != nil {
				return nil, err
			}
			m.Files = append(m.Files, f)
			m.Counts.DocumentsStored++
		}
		m.Counts.MissingDocuments = len(m.MissingDocuments)
	}
	m.Fingerprint = fp.sum()
	m.Counts.Files = len(m.Files) + 1
	// The manifest is encoded into the (now free) export spool rather than
	// memory: for a large project its file list is megabytes.
	if err := spool.Truncate(0); err != nil {
		return nil, fmt.Errorf("backup: encoding the manifest: %w", err)
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("backup: encoding the manifest: %w", err)
	}
	msize, err := encodeManifest(spool, m)
	if err != nil {
		return nil, fmt.Errorf("backup: encoding the manifest: %w", err)
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("backup: encoding the manifest: %w", err)
	}
	hdr := &tar.Header{Name: manifestName, Mode: 0o644, Size: msize, ModTime: exported, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, fmt.Errorf("backup: writing the manifest: %w", err)
	}
	if _, err := io.CopyBuffer(tw, io.LimitReader(spool, msize), buf); err != nil {
		return nil, fmt.Errorf("backup: writing the manifest: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("backup: finishing the tar: %w", err)
	}
	if err := gz.Close(); err != nil {
		return nil, fmt.Errorf("backup: finishing the gzip stream: %w", err)
	}
	return m, nil
}

// encodeManifest writes m as JSON, one file entry at a time, and returns
// the size written.
func encodeManifest(w io.Writer, m *Manifest) (int64, error) {
	bw := bufio.NewWriter(w)
	cw := &countWriter{w: bw}
	head := *m
	head.Files = nil
	hb, err := json.Marshal(head)
	if err != nil {
		return 0, err
	}
	// head ends in `"files":null}`; replace that with the streamed list.
	const tail = `"files":null}`
	if !bytes.HasSuffix(hb, []byte(tail)) {
		return 0, errors.New("manifest encoding: files is not the last field")
	}
	cw.Write(hb[:len(hb)-len(tail)])
	io.WriteString(cw, "\"files\":[\n")
	for i, f := range m.Files {
		fb, err := json.Marshal(f)
		if err != nil {
			return 0, err
		}
		if i > 0 {
			io.WriteString(cw, ",\n")
		}
		cw.Write(fb)
	}
	io.WriteString(cw, "\n]}\n")
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	return cw.n, cw.err
}

type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

// sized returns a reader of known size for rc: from its Size or Stat
// method, or by spooling it into *spool (created on first need, reused).
func sized(rc io.ReadCloser, spool **os.File, dir string) (io.Reader, int64, error) {
	switch v := rc.(type) {
	case interface{ Size() int64 }:
		return rc, v.Size(), nil
	case interface{ Stat() (fs.FileInfo, error) }:
		if fi, err := v.Stat(); err == nil && fi.Mode().IsRegular() {
			return rc, fi.Size(), nil
		}
	}
	if *spool == nil {
		f, err := os.CreateTemp(dir, "langsync-doc-*")
		if err != nil {
			return nil, 0, err
		}
		*spool = f
	}
	f := *spool
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, 0, err
	}
	if err := f.Truncate(0); err != nil {
		return nil, 0, err
	}
	n, err := io.Copy(f, rc)
	if err != nil {
		return nil, 0, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, 0, err
	}
	return io.LimitReader(f, n), n, nil
}

// checkLocation confines a document location to a relative path without
// . or .. segments, so documents/<location> stays inside the archive and
// inside any directory it is extracted to.
func checkLocation(loc string) error {
	switch {
	case loc == "":
		return errors.New("empty document location")
	case strings.HasPrefix(loc, "/") || strings.Contains(loc, "\\") || strings.ContainsRune(loc, 0):
		return errors.New("absolute path, backslash or NUL in the location")
	case len(loc) > 1024:
		return errors.New("location longer than 1024 characters")
	}
	for _, seg := range strings.Split(loc, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return errors.New("empty, . or .. path segment in the location")
		}
	}
	return nil
}

// ctxReader stops a copy when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
