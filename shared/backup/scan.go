package backup

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// exportScan is what one streaming pass over an exported project learns:
// its canonical hash (for the fingerprint), the facts the manifest records,
// and the document locations to archive. Memory is proportional to the
// number of documents (32 bytes and a location each), not to the JSON size.
type exportScan struct {
	canonical   [32]byte
	projectName string
	projectKind string
	// intents and utterances count a conversation project's.
	intents, utterances int
	assetsKind          string
	container           string
	locations           []string
	classes             int
	entities            int
	documents           int
	topKeys             map[string]bool
	metaKeys            map[string]bool
	assetsKeys          map[string]bool
	maxDepth            int
}

// serverOwned are fields the service sets itself; they change without the
// project changing, so the fingerprint ignores them.
var serverOwned = map[string]bool{
	"createdDateTime":      true,
	"lastModifiedDateTime": true,
	"lastTrainedDateTime":  true,
	"lastDeployedDateTime": true,
}

// scanExport reads one JSON value from r (and nothing after it). maxDepth
// bounds nesting. It is a small hand-written scanner: encoding/json's
// Decoder.Token allocates per token and was the slowest part of a backup.
// Strings decode exactly as encoding/json decodes them (escapes and
// invalid UTF-8 go through json.Unmarshal), so the canonical form is the
// same whichever parser produced it.
func scanExport(r io.Reader, maxDepth int) (*exportScan, error) {
	s := &exportScan{maxDepth: maxDepth, topKeys: map[string]bool{}, metaKeys: map[string]bool{}, assetsKeys: map[string]bool{}}
	l := &lexer{r: bufio.NewReaderSize(r, 64<<10)}
	c, err := l.next()
	if err != nil {
		return nil, l.eofErr(err)
	}
	h, err := s.value(l, c, make([]string, 0, 16))
	if err != nil {
		return nil, err
	}
	if c, err := l.next(); err != io.EOF {
		if err == nil {
			return nil, fmt.Errorf("unexpected data after the JSON value (%q at offset %d)", c, l.off-1)
		}
		return nil, err
	}
	s.canonical = h
	return s, nil
}

// lexer reads JSON bytes and tracks the offset for error messages.
type lexer struct {
	r   *bufio.Reader
	off int64
	raw []byte
}

func (l *lexer) byte() (byte, error) {
	c, err := l.r.ReadByte()
	if err == nil {
		l.off++
	}
	return c, err
}

// next returns the next byte that is not whitespace.
func (l *lexer) next() (byte, error) {
	for {
		c, err := l.byte()
		if err != nil {
			return 0, err
		}
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return c, nil
		}
	}
}

func (l *lexer) eofErr(err error) error {
	var le *LimitError
	if errors.As(err, &le) {
		return err
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errors.New("JSON ends early (truncated)")
	}
	return fmt.Errorf("reading JSON: %w", err)
}

func (l *lexer) bad(c byte, where string) error {
	return fmt.Errorf("invalid JSON: unexpected %q %s at offset %d", c, where, l.off-1)
}

// str reads a string whose opening quote was consumed.
func (l *lexer) str() (string, error) {
	l.raw = l.raw[:0]
	escaped, slow := false, false
	for {
		c, err := l.byte()
		if err != nil {
			return "", l.eofErr(err)
		}
		switch {
		case escaped:
			escaped = false
		case c == '\\':
			escaped, slow = true, true
		case c == '"':
			if !slow {
				return string(l.raw), nil
			}
			// Escapes or non-ASCII that is not valid UTF-8: let encoding/json
			// decode them, exactly as it would have.
			var out string
			q := make([]byte, 0, len(l.raw)+2)
			q = append(append(append(q, '"'), l.raw...), '"')
			if err := json.Unmarshal(q, &out); err != nil {
				return "", fmt.Errorf("invalid JSON string at offset %d: %w", l.off, err)
			}
			return out, nil
		case c < 0x20:
			return "", l.bad(c, "(control character in a string)")
		case c >= 0x80:
			slow = slow || !l.utf8Ahead(c)
		}
		l.raw = append(l.raw, c)
	}
}

// utf8Ahead reports whether c starts a valid UTF-8 sequence; it peeks at
// the continuation bytes without consuming them.
func (l *lexer) utf8Ahead(c byte) bool {
	n := 0
	switch {
	case c&0xe0 == 0xc0:
		n = 1
	case c&0xf0 == 0xe0:
		n = 2
	case c&0xf8 == 0xf0:
		n = 3
	default:
		return false
	}
	next, _ := l.r.Peek(n)
	if len(next) < n {
		return false
	}
	seq := append([]byte{c}, next...)
	r, size := utf8.DecodeRune(seq)
	return r != utf8.RuneError && size == n+1
}

// number reads a number whose first byte is c and checks JSON's grammar.
func (l *lexer) number(c byte) (string, error) {
	l.raw = append(l.raw[:0], c)
	for {
		b, err := l.r.Peek(1)
		if err != nil || !strings.ContainsRune("+-.eE0123456789", rune(b[0])) {
			break
		}
		c, _ := l.byte()
		l.raw = append(l.raw, c)
	}
	if !validNumber(l.raw) {
		return "", fmt.Errorf("invalid JSON number %q at offset %d", l.raw, l.off-int64(len(l.raw)))
	}
	return string(l.raw), nil
}

// validNumber checks -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(b []byte) bool {
	i := 0
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i, n = i+1, n+1
		}
		return n
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(b)
}

func (l *lexer) literal(rest string) error {
	for i := 0; i < len(rest); i++ {
		c, err := l.byte()
		if err != nil {
			return l.eofErr(err)
		}
		if c != rest[i] {
			return l.bad(c, "in a literal")
		}
	}
	return nil
}

// value hashes one JSON value whose first byte is c. Objects hash their
// (key, value-hash) pairs in key order; arrays hash their element hashes
// sorted, which makes every array order-insensitive (classes, entities,
// documents, labels are sets).
func (s *exportScan) value(l *lexer, c byte, path []string) ([32]byte, error) {
	switch {
	case c == '{' || c == '[':
		if len(path)+1 > s.maxDepth {
			return [32]byte{}, &LimitError{What: "JSON depth", Limit: int64(s.maxDepth)}
		}
		if c == '{' {
			return s.object(l, path)
		}
		return s.array(l, path)
	case c == '"':
		v, err := l.str()
		if err != nil {
			return [32]byte{}, err
		}
		s.observe(path, v)
		return leaf('s', v), nil
	case c == '-' || c >= '0' && c <= '9':
		v, err := l.number(c)
		if err != nil {
			return [32]byte{}, err
		}
		return leaf('n', v), nil
	case c == 't':
		return leaf('b', "true"), l.literal("rue")
	case c == 'f':
		return leaf('b', "false"), l.literal("alse")
	case c == 'n':
		return leaf('z', ""), l.literal("ull")
	}
	return [32]byte{}, l.bad(c, "where a value should be")
}

func leaf(kind byte, v string) [32]byte {
	h := sha256.New()
	h.Write([]byte{kind})
	h.Write([]byte(v))
	var out [32]byte
	h.Sum(out[:0])
	return out
}

type member struct {
	key string
	h   [32]byte
}

func (s *exportScan) object(l *lexer, path []string) ([32]byte, error) {
	var members []member
	for first := true; ; first = false {
		c, err := l.next()
		if err != nil {
			return [32]byte{}, l.eofErr(err)
		}
		if first && c == '}' {
			break
		}
		if c != '"' {
			return [32]byte{}, l.bad(c, "where an object key should be")
		}
		key, err := l.str()
		if err != nil {
			return [32]byte{}, err
		}
		if c, err = l.next(); err != nil {
			return [32]byte{}, l.eofErr(err)
		} else if c != ':' {
			return [32]byte{}, l.bad(c, "after an object key")
		}
		switch {
		case len(path) == 0:
			s.topKeys[key] = true
		case pathIs(path, "metadata"):
			s.metaKeys[key] = true
		case pathIs(path, "assets"):
			s.assetsKeys[key] = true
		}
		if c, err = l.next(); err != nil {
			return [32]byte{}, l.eofErr(err)
		}
		h, err := s.value(l, c, append(path, key))
		if err != nil {
			return [32]byte{}, err
		}
		if !s.dropped(path, key) {
			members = append(members, member{key, h})
		}
		if c, err = l.next(); err != nil {
			return [32]byte{}, l.eofErr(err)
		}
		if c == '}' {
			break
		}
		if c != ',' {
			return [32]byte{}, l.bad(c, "after an object member")
		}
	}
	slices.SortFunc(members, func(a, b member) int { return strings.Compare(a.key, b.key) })
	h := sha256.New()
	h.Write([]byte{'{'})
	var n [8]byte
	for _, m := range members {
		binary.BigEndian.PutUint64(n[:], uint64(len(m.key)))
		h.Write(n[:])
		h.Write([]byte(m.key))
		h.Write(m.h[:])
	}
	var out [32]byte
	h.Sum(out[:0])
	return out, nil
}

func (s *exportScan) array(l *lexer, path []string) ([32]byte, error) {
	var elems [][32]byte
	child := append(path, "[]")
	for first := true; ; first = false {
		c, err := l.next()
		if err != nil {
			return [32]byte{}, l.eofErr(err)
		}
		if first && c == ']' {
			break
		}
		h, err := s.value(l, c, child)
		if err != nil {
			return [32]byte{}, err
		}
		elems = append(elems, h)
		if c, err = l.next(); err != nil {
			return [32]byte{}, l.eofErr(err)
		}
		if c == ']' {
			break
		}
		if c != ',' {
			return [32]byte{}, l.bad(c, "after an array element")
		}
	}
	switch {
	case pathIs(path, "assets", "classes"):
		s.classes = len(elems)
	case pathIs(path, "assets", "entities"):
		s.entities = len(elems)
	case pathIs(path, "assets", "documents"):
		s.documents = len(elems)
	case pathIs(path, "assets", "intents"):
		s.intents = len(elems)
	case pathIs(path, "assets", "utterances"):
		s.utterances = len(elems)
	}
	slices.SortFunc(elems, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	h := sha256.New()
	h.Write([]byte{'['})
	for _, e := range elems {
		h.Write(e[:])
	}
	var out [32]byte
	h.Sum(out[:0])
	return out, nil
}

// dropped reports whether key under path is left out of the canonical form:
// server-set timestamps at the top and in metadata, and the file format
// version (a property of the API version, not of the project).
func (s *exportScan) dropped(path []string, key string) bool {
	switch {
	case len(path) == 0:
		return serverOwned[key] || key == "projectFileVersion"
	case pathIs(path, "metadata"):
		return serverOwned[key]
	}
	return false
}

func (s *exportScan) observe(path []string, v string) {
	switch {
	case pathIs(path, "metadata", "projectName"):
		s.projectName = v
	case pathIs(path, "metadata", "projectKind"):
		s.projectKind = v
	case pathIs(path, "metadata", "storageInputContainerName"):
		s.container = v
	case pathIs(path, "assets", "projectKind"):
		s.assetsKind = v
	case pathIs(path, "assets", "documents", "[]", "location"):
		s.locations = append(s.locations, v)
	}
}

// Project kinds of the current export shape (compared case-insensitively:
// docs show camelCase, the service emits PascalCase).
var projectKinds = []string{
	"CustomSingleLabelClassification",
	"CustomMultiLabelClassification",
	"CustomEntityRecognition",
	"CustomAbstractiveSummarization",
	"CustomHealthcare",
	"CustomTextSentiment",
	// Conversation projects (the conversations authoring API): their
	// utterances are in the file, so their archives are self-contained.
	"Conversation",
	"Orchestration",
}

func knownKind(k string) bool {
	for _, p := range projectKinds {
		if strings.EqualFold(p, k) {
			return true
		}
	}
	return false
}

// validate checks the scan describes a current-shape export.
func (s *exportScan) validate() error {
	var problems []string
	if !s.topKeys["metadata"] {
		problems = append(problems, "no metadata object")
	}
	if s.projectName == "" {
		problems = append(problems, "metadata.projectName is missing")
	}
	if !knownKind(s.projectKind) {
		problems = append(problems, fmt.Sprintf("metadata.projectKind %q is not one of %s", s.projectKind, strings.Join(projectKinds, ", ")))
	}
	if s.assetsKind != "" && !strings.EqualFold(s.assetsKind, s.projectKind) {
		problems = append(problems, fmt.Sprintf("assets.projectKind %q differs from metadata.projectKind %q", s.assetsKind, s.projectKind))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: not an exported project: %s", ErrFormat, strings.Join(problems, "; "))
	}
	return nil
}

func pathIs(path []string, want ...string) bool { return slices.Equal(path, want) }
