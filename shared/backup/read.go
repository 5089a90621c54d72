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
	"path"
	"slices"
	"strings"

	"github.com/langsync/langsync/shared/langsync"
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
// the manifest (sha256 and size, no file missing or extra), the fingerprint
// against the content and the names (project, model label, source) against
// the service's rules, and returns the manifest. A failure names the file
// (*VerifyError, matching ErrCorrupt; a bad name also matches
// langsync.ErrInvalidName). Memory is constant apart from a few bytes per
// file, and nothing is written anywhere.
func Verify(r io.Reader, limits *Limits) (*Manifest, error) {
	m, _, err := readArchive(r, limits.withDefaults(), false)
	return m, err
}

// Archive is a verified restore input: its manifest and the export to
// import. Documents are never kept: EachDocument reads them again from the
// source, which OpenAt (or Open of a *bytes.Reader) remembers.
type Archive struct {
	Kind     Kind
	Manifest *Manifest
	export   []byte
	lim      Limits
	// src is the re-readable input of an archive (nil: a stream).
	src  io.ReaderAt
	size int64
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

// Close releases the archive. Nothing is spooled any more (documents are
// read again by EachDocument), so it only forgets the source.
func (a *Archive) Close() error {
	a.src = nil
	return nil
}

// sizedReaderAt is a re-readable input of known size (*bytes.Reader,
// *strings.Reader, *io.SectionReader).
type sizedReaderAt interface {
	io.ReaderAt
	Size() int64
}

// Open reads a restore input: a langsync archive, a plain exported-project
// JSON (a Language Studio export), or a legacy 2021-11-01-preview export
// (converted to the current shape). An archive is verified completely, in
// one streaming pass, before Open returns; only the manifest and
// project.json are kept (in memory, within Limits), and nothing is written
// to disk, so a hostile input costs no more than Verify. Anything that fails
// a limit or a check is an error. When r is also an io.ReaderAt with a Size
// (a *bytes.Reader), the archive can be read again by EachDocument; for a
// file use OpenAt.
func Open(r io.Reader, limits *Limits) (*Archive, error) {
	if ra, ok := r.(sizedReaderAt); ok {
		return OpenAt(ra, ra.Size(), limits)
	}
	return open(r, -1, nil, limits.withDefaults(), true)
}

// Check reads a restore input in one pass and keeps nothing: it accepts
// exactly what Open accepts, with the same checks (an archive is verified
// as by Verify; a plain or legacy export JSON is parsed and checked as an
// export). It returns what the input is and its manifest (synthesised for
// an export JSON, which carries no documents and no per-file checksums).
// Verification and restore use it so that they never disagree about an
// input.
func Check(r io.Reader, limits *Limits) (Kind, *Manifest, error) {
	a, err := open(r, -1, nil, limits.withDefaults(), false)
	if err != nil {
		return "", nil, err
	}
	return a.Kind, a.Manifest, nil
}

// OpenSize is Open for a stream whose length is known (a blob's size): an
// input larger than the archive limit, or a JSON input larger than the JSON
// limit, is refused before it is read, and a JSON input is read into a
// buffer of exactly its size.
func OpenSize(r io.Reader, size int64, limits *Limits) (*Archive, error) {
	return open(r, size, nil, limits.withDefaults(), true)
}

// OpenAt is Open over a re-readable input (a spooled file): the returned
// archive's EachDocument reads its documents in a second pass.
func OpenAt(ra io.ReaderAt, size int64, limits *Limits) (*Archive, error) {
	return open(io.NewSectionReader(ra, 0, size), size, ra, limits.withDefaults(), true)
}

// KeepFile is where OpenKeep copies an input for its second pass (an
// *os.File).
type KeepFile interface {
	io.Writer
	io.ReaderAt
}

// OpenKeep is Open over a stream that can be read only once (a blob being
// downloaded): the bytes are copied into keep as verification reads them,
// and keep then serves EachDocument. Verification runs as the bytes
// arrive, so a hostile input stops the copy where it is refused: keep
// never holds more than the input read so far, as stored (compressed,
// within MaxArchiveBytes), never what it inflates to.
func OpenKeep(r io.Reader, keep KeepFile, limits *Limits) (*Archive, error) {
	cw := &countWriter{w: keep}
	a, err := open(io.TeeReader(r, cw), -1, nil, limits.withDefaults(), true)
	if err != nil {
		return nil, err
	}
	if cw.err != nil {
		return nil, fmt.Errorf("backup: keeping the archive for its second read: %w", cw.err)
	}
	if a.Kind == KindArchive {
		a.src, a.size = keep, cw.n
	}
	return a, nil
}

// open reads and checks an input; keepExport false (Check) keeps no
// archive's export in memory.
func open(r io.Reader, size int64, ra io.ReaderAt, lim Limits, keepExport bool) (*Archive, error) {
	if size > lim.MaxArchiveBytes {
		return nil, &LimitError{What: "archive size", Limit: lim.MaxArchiveBytes}
	}
	br := bufio.NewReader(&limitReader{r: r, max: lim.MaxArchiveBytes, what: "archive size"})
	head, err := br.Peek(2)
	if err != nil && len(head) == 0 {
		if err != io.EOF {
			return nil, fmt.Errorf("backup: reading the input: %w", err)
		}
		return nil, fmt.Errorf("%w: the input is empty", ErrFormat)
	}
	if len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		m, export, err := readArchive(br, lim, keepExport)
		if err != nil {
			return nil, err
		}
		a := &Archive{Kind: KindArchive, Manifest: m, export: export, lim: lim}
		if ra != nil {
			a.src, a.size = ra, size
		}
		return a, nil
	}
	first, err := firstNonSpace(br)
	if err != nil || first != '{' {
		return nil, fmt.Errorf("%w: want a langsync backup (.tar.gz) or an exported project JSON object", ErrFormat)
	}
	if size > lim.MaxJSONBytes {
		return nil, &LimitError{What: "JSON size", Limit: lim.MaxJSONBytes}
	}
	b, err := readJSON(br, size, lim.MaxJSONBytes)
	if err != nil {
		return nil, fmt.Errorf("backup: reading JSON input: %w", err)
	}
	// Editors on Windows save JSON with a byte order mark; the service
	// wants plain JSON.
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	return openJSON(b, lim)
}

// readJSON reads at most max bytes (a *LimitError past that). With a known
// size the buffer is allocated once; otherwise it grows by doubling but
// never beyond max+1, so refusing an oversized input costs at most the
// limit, not twice the input.
func readJSON(r io.Reader, size, max int64) ([]byte, error) {
	c := int64(64 << 10)
	if size >= 0 {
		c = size + 1 // +1: a stream longer than declared is seen
	}
	buf := make([]byte, 0, min(c, max+1))
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > max {
				return nil, &LimitError{What: "JSON size", Limit: max}
			}
			nb := make([]byte, len(buf), min(int64(2*cap(buf)), max+1))
			copy(nb, buf)
			buf = nb
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > max {
			return nil, &LimitError{What: "JSON size", Limit: max}
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
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

// readArchive streams r, hashing every entry and discarding documents;
// with keepExport it also returns project.json.
func readArchive(r io.Reader, lim Limits, keepExport bool) (*Manifest, []byte, error) {
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
			if keepExport {
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
			// Refuse a bad project name now, before the documents are read.
			if nerr := langsync.ValidateProjectName(scan.projectName); nerr != nil {
				return nil, nil, &VerifyError{File: projectName, Reason: nerr.Error(), Err: nerr}
			}
		default:
			if hdr.Size > lim.MaxDocumentBytes {
				return nil, nil, &LimitError{What: "document size", Limit: lim.MaxDocumentBytes}
			}
			n, err = io.Copy(io.Discard, body)
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
	if err := checkNames(m); err != nil {
		return nil, nil, &VerifyError{File: manifestName, Reason: err.Error(), Err: err}
	}
	return m, export, nil
}

// checkNames applies the service's name rules to what a manifest names, so
// that a backup with a name no restore could use is refused when it is
// read, not after a restore has begun.
func checkNames(m *Manifest) error {
	if err := langsync.ValidateProjectName(m.Project); err != nil {
		return err
	}
	if m.TrainedModelLabel != "" {
		if err := langsync.ValidateModelLabel(m.TrainedModelLabel); err != nil {
			return err
		}
	}
	if m.Source.Name != "" {
		if err := langsync.ValidateResourceName(m.Source.Name); err != nil {
			return fmt.Errorf("source %w", err)
		}
	}
	return nil
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
	case tar.TypeReg: // tar.Reader already reports old writers' NUL typeflag (TypeRegA) as TypeReg
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

// ErrNotReReadable: EachDocument was called on an archive opened from a
// stream; open it with OpenAt (or from a *bytes.Reader) instead.
var ErrNotReReadable = errors.New("backup: the archive was opened from a stream and cannot be read again (open it with OpenAt)")

// EachDocument reads the archive a second time and calls fn with each
// document's content, in archive order, after checking it against the
// manifest that Open verified: an entry the manifest does not list, a size
// or sha256 that differs, or a missing document is an error, so fn never
// sees a byte the verified manifest does not vouch for (even if the source
// changed between the passes). Each body is a new buffer of the document's
// declared size (at most Limits.MaxDocumentBytes); fn may keep it.
func (a *Archive) EachDocument(ctx context.Context, fn func(f File, body []byte) error) error {
	want := map[string]File{}
	for _, f := range a.Documents() {
		want[f.Path] = f
	}
	if len(want) == 0 {
		return nil
	}
	if a.src == nil {
		return ErrNotReReadable
	}
	lim := a.lim
	zr, err := gzip.NewReader(&limitReader{r: io.NewSectionReader(a.src, 0, a.size), max: lim.MaxArchiveBytes, what: "archive size"})
	if err != nil {
		return corrupt("not a gzip stream", err)
	}
	zr.Multistream(false)
	tr := tar.NewReader(&limitReader{r: zr, max: lim.MaxUncompressedBytes, what: "decompressed size"})
	for entries := 0; ; entries++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return corrupt("reading the tar stream", err)
		}
		if entries >= lim.MaxFiles {
			return &LimitError{What: "file count", Limit: int64(lim.MaxFiles)}
		}
		if err := checkEntry(hdr); err != nil {
			return err
		}
		if !strings.HasPrefix(hdr.Name, docsPrefix) {
			continue // project.json and the manifest: tar skips them
		}
		f, ok := want[hdr.Name]
		switch {
		case !ok:
			return &VerifyError{File: hdr.Name, Reason: "not in the verified manifest (the archive changed since it was verified)"}
		case hdr.Size != f.Size:
			return &VerifyError{File: hdr.Name, Reason: fmt.Sprintf("size %d, manifest says %d (the archive changed since it was verified)", hdr.Size, f.Size)}
		}
		delete(want, hdr.Name)
		// A fresh buffer each time: fn may hand body to a writer goroutine.
		body := make([]byte, f.Size)
		if _, err := io.ReadFull(tr, body); err != nil {
			return corrupt("reading "+hdr.Name, err)
		}
		if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != f.SHA256 {
			return &VerifyError{File: hdr.Name, Reason: "sha256 differs from the verified manifest (the archive changed since it was verified)"}
		}
		if err := fn(f, body); err != nil {
			return err
		}
	}
	for p := range want {
		return &VerifyError{File: p, Reason: "missing on the second read (the archive changed since it was verified)"}
	}
	return nil
}
