package backup

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// exportScan is what one streaming pass over an exported project learns:
// its canonical hash (for the fingerprint), the facts the manifest records,
// and the document locations to archive. Memory is proportional to the
// number of documents (32 bytes and a location each), not to the JSON size.
type exportScan struct {
	canonical   [32]byte
	projectName string
	projectKind string
	assetsKind  string
	container   string
	locations   []string
	classes     int
	entities    int
	documents   int
	topKeys     map[string]bool
	metaKeys    map[string]bool
	assetsKeys  map[string]bool
	maxDepth    int
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
// bounds nesting.
func scanExport(r io.Reader, maxDepth int) (*exportScan, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	s := &exportScan{maxDepth: maxDepth, topKeys: map[string]bool{}, metaKeys: map[string]bool{}, assetsKeys: map[string]bool{}}
	h, err := s.value(dec, make([]string, 0, 16))
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return nil, errors.New("unexpected data after the JSON value")
		}
		return nil, jsonErr(err)
	}
	s.canonical = h
	return s, nil
}

func jsonErr(err error) error {
	var le *LimitError
	if errors.As(err, &le) {
		return err
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errors.New("JSON ends early (truncated)")
	}
	return fmt.Errorf("invalid JSON: %w", err)
}

func pathIs(path []string, want ...string) bool { return slices.Equal(path, want) }

// value hashes one JSON value. Objects hash their (key, value-hash) pairs in
// key order; arrays hash their element hashes sorted, which makes every
// array order-insensitive (classes, entities, documents, labels are sets).
func (s *exportScan) value(dec *json.Decoder, path []string) ([32]byte, error) {
	tok, err := dec.Token()
	if err != nil {
		return [32]byte{}, jsonErr(err)
	}
	switch t := tok.(type) {
	case json.Delim:
		if len(path)+1 > s.maxDepth {
			return [32]byte{}, &LimitError{What: "JSON depth", Limit: int64(s.maxDepth)}
		}
		if t == '{' {
			return s.object(dec, path)
		}
		return s.array(dec, path)
	case string:
		s.observe(path, t)
		return leaf('s', t), nil
	case json.Number:
		return leaf('n', string(t)), nil
	case bool:
		if t {
			return leaf('b', "true"), nil
		}
		return leaf('b', "false"), nil
	case nil:
		return leaf('z', ""), nil
	}
	return [32]byte{}, fmt.Errorf("unexpected JSON token %v", tok)
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

func (s *exportScan) object(dec *json.Decoder, path []string) ([32]byte, error) {
	var members []member
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return [32]byte{}, jsonErr(err)
		}
		key, _ := kt.(string)
		switch {
		case len(path) == 0:
			s.topKeys[key] = true
		case pathIs(path, "metadata"):
			s.metaKeys[key] = true
		case pathIs(path, "assets"):
			s.assetsKeys[key] = true
		}
		h, err := s.value(dec, append(path, key))
		if err != nil {
			return [32]byte{}, err
		}
		if s.dropped(path, key) {
			continue
		}
		members = append(members, member{key, h})
	}
	if _, err := dec.Token(); err != nil {
		return [32]byte{}, jsonErr(err)
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

func (s *exportScan) array(dec *json.Decoder, path []string) ([32]byte, error) {
	var elems [][32]byte
	child := append(path, "[]")
	for dec.More() {
		h, err := s.value(dec, child)
		if err != nil {
			return [32]byte{}, err
		}
		elems = append(elems, h)
	}
	if _, err := dec.Token(); err != nil {
		return [32]byte{}, jsonErr(err)
	}
	switch {
	case pathIs(path, "assets", "classes"):
		s.classes = len(elems)
	case pathIs(path, "assets", "entities"):
		s.entities = len(elems)
	case pathIs(path, "assets", "documents"):
		s.documents = len(elems)
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
