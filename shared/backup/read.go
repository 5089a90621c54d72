package backup

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Kind says what an opened input was.
type Kind string

// Input kinds Open accepts.
const (
	// KindArchive is a langsync backup (.tar.gz).
	KindArchive Kind = "langsync-backup"
	// KindProjectJSON is a plain exported project (e.g. from Language Studio).
	KindProjectJSON Kind = "exported-project-json"
	// KindLegacy is a 2021-11-01-preview export, converted to the current shape.
	KindLegacy Kind = "legacy-2021-11-01-preview"
)

// Verify reads an archive in one streaming pass, checks every file against
// the manifest (sha256 and size, no file missing or extra) and the
// fingerprint against the content, and returns the manifest. A failure
// names the file (*VerifyError, matching ErrCorrupt). Memory is constant
// apart from a few bytes per file.
func Verify(r io.Reader, limits *Limits) (*Manifest, error) {
	m, _, err := readArchive(r, limits.withDefaults(), nil)
	return m, err
}

// Archive is a verified restore input: the export to import and, for our
// archives, the documents, kept in a temporary directory until Close.
type Archive struct {
	Kind     Kind
	Manifest *Manifest
	export   []byte
	dir      string
	docs     map[string]string // location -> spooled file
}

// Export returns the exported project JSON (converted, for legacy input).
func (a *Archive) Export() []byte { return a.export }

// ExportReader returns the export as an io.ReadSeeker (what import takes).
func (a *Archive) ExportReader() *bytes.Reader { return bytes.NewReader(a.export) }

// Documents lists the archived documents, sorted by location.
func (a *Archive) Documents() []File {
	var out []File
	for _, f := range a.Manifest.Files {
		if f.Document() != "" {
			out = append(out, f)
		}
	}
	return out
}

// OpenDocument opens an archived document by its location.
func (a *Archive) OpenDocument(location string) (*os.File, error) {
	p, ok := a.docs[location]
	if !ok {
		return nil, fmt.Errorf("backup: document %q is not in the archive: %w", location, os.ErrNotExist)
	}
	return os.Open(p)
}

// Close removes the spooled documents.
func (a *Archive) Close() error {
	if a.dir == "" {
		return nil
	}
	return os.RemoveAll(a.dir)
}

// Open reads a restore input: a langsync archive (verified completely before
// Open returns; documents are spooled to a temporary directory), a plain
// exported-project JSON (a Language Studio export), or a legacy
// 2021-11-01-preview export (converted to the current shape). Anything that
// fails a limit or a check is an error and leaves nothing behind.
func Open(r io.Reader, limits *Limits) (*Archive, error) {
	lim := limits.withDefaults()
	br, isArchive, err := sniff(r, lim)
	if err != nil {
		return nil, err
	}
	if isArchive {
		return openArchive(br, lim)
	}
	b, err := readJSON(br, lim)
	if err != nil {
		return nil, err
	}
	return openJSON(b, lim)
}

// Check reads a restore input in one pass and keeps nothing: it accepts
// exactly what Open accepts, with the same checks (an archive is verified
// as by Verify; a plain or legacy export JSON is parsed and checked as an
// export). It returns what the input is and its manifest (synthesised for
// an export JSON, which carries no documents and no per-file checksums).
// Verification and restore use it so that they never disagree about an
// input.
func Check(r io.Reader, limits *Limits) (Kind, *Manifest, error) {
	lim := limits.withDefaults()
	br, isArchive, err := sniff(r, lim)
	if err != nil {
		return "", nil, err
	}
	if isArchive {
		m, _, err := readArchive(br, lim, nil)
		return KindArchive, m, err
	}
	b, err := readJSON(br, lim)
	if err != nil {
		return "", nil, err
	}
	a, err := openJSON(b, lim)
	if err != nil {
		return "", nil, err
	}
	return a.Kind, a.Manifest, nil
}

// sniff tells a gzip'd archive from a JSON object by the first bytes.
func sniff(r io.Reader, lim Limits) (*bufio.Reader, bool, error) {
	br := bufio.NewReader(&limitReader{r: r, max: lim.MaxArchiveBytes, what: "archive size"})
	head, err := br.Peek(2)
	if err != nil && len(head) == 0 {
		if err != io.EOF {
			return nil, false, fmt.Errorf("backup: reading the input: %w", err)
		}
		return nil, false, fmt.Errorf("%w: the input is empty", ErrFormat)
	}
	if len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		return br, true, nil
	}
	first, err := firstNonSpace(br)
	if err != nil || first != '{' {
		return nil, false, fmt.Errorf("%w: want a langsync backup (.tar.gz) or an exported project JSON object", ErrFormat)
	}
	return br, false, nil
}

func readJSON(br *bufio.Reader, lim Limits) ([]byte, error) {
	b, err := io.ReadAll(&limitReader{r: br, max: lim.MaxJSONBytes, what: "JSON size"})
	if err != nil {
		return nil, fmt.Errorf("backup: reading JSON input: %w", err)
	}
	// Editors on Windows save JSON with a byte order mark; the service
	// wants plain JSON.
	return bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")), nil
}

func firstNonSpace(br *bufio.Reader) (byte, error) {
	for i := 1; i <= 4096; i++ {
		b, err := br.Peek(i)
		if len(b) < i {
			return 0, err
		}
		c := b[i-1]
		// Skip whitespace and a UTF-8 byte order mark.
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == 0xef || c == 0xbb || c == 0xbf {
			continue
		}
		return c, nil
	}
	return 0, errors.New("no JSON within the first 4 KiB")
}

func openArchive(r io.Reader, lim Limits) (*Archive, error) {
	dir, err := os.MkdirTemp("", "langsync-restore-*")
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	sp := &spoolDir{dir: dir, docs: map[string]string{}}
	m, export, err := readArchive(r, lim, sp)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &Archive{Kind: KindArchive, Manifest: m, export: export, dir: dir, docs: sp.docs}, nil
}

// spoolDir keeps documents while an archive is read.
type spoolDir struct {
	dir  string
	docs map[string]string
}

func (s *spoolDir) create(loc string) (*os.File, error) {
	p := filepath.Join(s.dir, strconv.Itoa(len(s.docs)))
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	s.docs[loc] = p
	return f, nil
}

func corrupt(what string, err error) error {
	var le *LimitError
	if errors.As(err, &le) {
		return le
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return &VerifyError{File: "archive", Reason: what + ": the archive is truncated"}
	}
	return &VerifyError{File: "archive", Reason: what + ": " + err.Error()}
}

// readArchive streams r, hashing every entry; when keep is not nil it also
// keeps project.json (returned) and the documents.
func readArchive(r io.Reader, lim Limits, keep *spoolDir) (*Manifest, []byte, error) {
	zr, err := gzip.NewReader(&limitReader{r: r, max: lim.MaxArchiveBytes, what: "archive size"})
	if err != nil {
		return nil, nil, corrupt("not a gzip stream", err)
	}
	zr.Multistream(false)
	ur := &limitReader{r: zr, max: lim.MaxUncompressedBytes, what: "decompressed size"}
	tr := tar.NewReader(ur)

	// seen holds what each entry hashed to: raw sums, not hex, since a
	// large project has hundreds of thousands of entries.
	seen := map[string]entrySum{}
	var manifest *Manifest
	var export []byte
	var scan *exportScan
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, corrupt("reading the tar stream", err)
		}
		if len(seen) >= lim.MaxFiles {
			return nil, nil, &LimitError{What: "file count", Limit: int64(lim.MaxFiles)}
		}
		name := hdr.Name
		if err := checkEntry(hdr); err != nil {
			return nil, nil, err
		}
		if _, dup := seen[name]; dup {
			return nil, nil, &PathError{Name: name, Reason: "duplicate entry"}
		}
		h := sha256.New()
		body := io.TeeReader(tr, h)
		var n int64
		switch {
		case name == manifestName:
			if hdr.Size > lim.MaxJSONBytes {
				return nil, nil, &LimitError{What: "JSON size", Limit: lim.MaxJSONBytes}
			}
			cr := &countReader{r: body}
			if manifest, err = decodeManifest(cr, lim); err != nil {
				return nil, nil, err
			}
			n = cr.n
		case name == projectName:
			if hdr.Size > lim.MaxJSONBytes {
				return nil, nil, &LimitError{What: "JSON size", Limit: lim.MaxJSONBytes}
			}
			cr := &countReader{r: body}
			var src io.Reader = cr
			var buf *bytes.Buffer
			if keep != nil {
				buf = bytes.NewBuffer(make([]byte, 0, hdr.Size))
				src = io.TeeReader(cr, buf)
			}
			scan, err = scanExport(src, lim.MaxJSONDepth)
			if err != nil {
				var le *LimitError
				if !errors.As(err, &le) {
					err = &VerifyError{File: projectName, Reason: err.Error()}
				}
				return nil, nil, err
			}
			n = cr.n
			if buf != nil {
				export = buf.Bytes()
			}
		default:
			loc := strings.TrimPrefix(name, docsPrefix)
			if keep != nil {
				f, ferr := keep.create(loc)
				if ferr != nil {
					return nil, nil, fmt.Errorf("backup: spooling %s: %w", name, ferr)
				}
				n, err = io.Copy(f, body)
				if cerr := f.Close(); err == nil && cerr != nil {
					return nil, nil, fmt.Errorf("backup: spooling %s: %w", name, cerr)
				}
			} else {
				n, err = io.Copy(io.Discard, body)
			}
		}
		if err != nil {
			return nil, nil, corrupt("reading "+name, err)
		}
		var es entrySum
		h.Sum(es.sum[:0])
		es.size = n
		seen[name] = es
	}
	// Read to the end of the gzip stream so its CRC and length are checked.
	if _, err := io.Copy(io.Discard, ur); err != nil {
		return nil, nil, corrupt("reading the end of the compressed stream", err)
	}

	if manifest == nil {
		return nil, nil, &VerifyError{File: manifestName, Reason: "missing (not a langsync backup, or written by an interrupted backup)"}
	}
	m := manifest
	if scan == nil {
		return nil, nil, &VerifyError{File: projectName, Reason: "missing from the archive"}
	}
	listed := make(map[string]bool, len(m.Files))
	var docs []File
	for _, f := range m.Files {
		if listed[f.Path] {
			return nil, nil, &VerifyError{File: f.Path, Reason: "listed twice in the manifest"}
		}
		listed[f.Path] = true
		got, ok := seen[f.Path]
		switch {
		case !ok:
			return nil, nil, &VerifyError{File: f.Path, Reason: "listed in the manifest but missing from the archive"}
		case got.size != f.Size:
			return nil, nil, &VerifyError{File: f.Path, Reason: fmt.Sprintf("size %d, manifest says %d", got.size, f.Size)}
		case hex.EncodeToString(got.sum[:]) != f.SHA256:
			return nil, nil, &VerifyError{File: f.Path, Reason: fmt.Sprintf("sha256 %s, manifest says %s", hex.EncodeToString(got.sum[:]), f.SHA256)}
		}
		if f.Document() != "" {
			docs = append(docs, f)
		}
	}
	var extra []string
	for p := range seen {
		if p != manifestName && !listed[p] {
			extra = append(extra, p)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return nil, nil, &VerifyError{File: extra[0], Reason: "in the archive but not in the manifest"}
	}
	slices.SortFunc(docs, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	fpr := newFingerprinter(scan.canonical)
	for _, d := range docs {
		if err := fpr.add(d.Document(), d.SHA256); err != nil {
			return nil, nil, &VerifyError{File: manifestName, Reason: err.Error()}
		}
	}
	fp := fpr.sum()
	if fp != m.Fingerprint {
		return nil, nil, &VerifyError{File: manifestName, Reason: fmt.Sprintf("fingerprint %s does not match the content (%s)", m.Fingerprint, fp)}
	}
	if m.Project != scan.projectName {
		return nil, nil, &VerifyError{File: manifestName, Reason: fmt.Sprintf("project %q, but project.json names %q", m.Project, scan.projectName)}
	}
	return m, export, nil
}

type entrySum struct {
	sum  [sha256.Size]byte
	size int64
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// checkEntry accepts only regular files named manifest.json, project.json
// or documents/<confined relative path>.
func checkEntry(hdr *tar.Header) error {
	name := hdr.Name
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // old writers still emit TypeRegA
	case tar.TypeSymlink, tar.TypeLink:
		return &PathError{Name: name, Reason: "links are not allowed (only regular files)"}
	case tar.TypeDir:
		return &PathError{Name: name, Reason: "directories are not allowed (only regular files)"}
	default:
		return &PathError{Name: name, Reason: fmt.Sprintf("entry type %q is not allowed (only regular files)", hdr.Typeflag)}
	}
	if strings.HasPrefix(name, "/") || path.IsAbs(name) {
		return &PathError{Name: name, Reason: "absolute path"}
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == ".." {
			return &PathError{Name: name, Reason: "path escapes the archive (..)"}
		}
	}
	if name == manifestName || name == projectName {
		return nil
	}
	loc, ok := strings.CutPrefix(name, docsPrefix)
	if !ok {
		return &PathError{Name: name, Reason: "unexpected entry (want project.json, documents/<location>, manifest.json)"}
	}
	if err := checkLocation(loc); err != nil {
		return &PathError{Name: name, Reason: err.Error()}
	}
	return nil
}

// decodeManifest reads manifest.json as a stream: the head fields are
// small, and the file list is decoded one entry at a time, so the manifest
// of a large project is never held twice.
func decodeManifest(r io.Reader, lim Limits) (*Manifest, error) {
	bad := func(err error) error {
		var le *LimitError
		if errors.As(err, &le) {
			return le
		}
		return &VerifyError{File: manifestName, Reason: err.Error()}
	}
	dec := json.NewDecoder(r)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, bad(fmt.Errorf("not a JSON object (%v)", err))
	}
	head := map[string]json.RawMessage{}
	var files []File
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, bad(err)
		}
		key, _ := kt.(string)
		if key != "files" {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, bad(err)
			}
			if jsonDepth(raw)+1 > lim.MaxJSONDepth {
				return nil, &LimitError{What: "JSON depth", Limit: int64(lim.MaxJSONDepth)}
			}
			if key == "counts" {
				var c Counts
				if json.Unmarshal(raw, &c) == nil && c.Files > 0 && files == nil {
					files = make([]File, 0, min(c.Files, lim.MaxFiles))
				}
			}
			head[key] = raw
			continue
		}
		t, err := dec.Token()
		if err != nil {
			return nil, bad(err)
		}
		if t == nil {
			continue
		}
		if t != json.Delim('[') {
			return nil, bad(errors.New("files is not an array"))
		}
		for dec.More() {
			if len(files) >= lim.MaxFiles {
				return nil, &LimitError{What: "file count", Limit: int64(lim.MaxFiles)}
			}
			var f File
			if err := dec.Decode(&f); err != nil {
				return nil, bad(err)
			}
			files = append(files, f)
		}
		if _, err := dec.Token(); err != nil {
			return nil, bad(err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, bad(err)
	}
	// Nothing but whitespace may follow.
	rest, err := io.ReadAll(io.MultiReader(dec.Buffered(), r))
	if err != nil {
		return nil, bad(err)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, bad(errors.New("data after the manifest object"))
	}
	hb, err := json.Marshal(head)
	if err != nil {
		return nil, bad(err)
	}
	var m Manifest
	if err := json.Unmarshal(hb, &m); err != nil {
		return nil, bad(err)
	}
	m.Files = files
	if m.Format != FormatName {
		return nil, fmt.Errorf("%w: manifest format %q, want %q", ErrFormat, m.Format, FormatName)
	}
	if m.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("%w: backup format version %d; this langsync reads version %d (upgrade langsync)", ErrFormat, m.FormatVersion, FormatVersion)
	}
	return &m, nil
}

// jsonDepth returns the deepest nesting of objects and arrays in b (which
// need not be valid JSON: json.Unmarshal judges that afterwards).
func jsonDepth(b []byte) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}
