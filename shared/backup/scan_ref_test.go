package backup

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// refScan is the first implementation of the canonical hash, on
// encoding/json's Decoder.Token. The hand-written scanner must agree with
// it on every input both accept.
type refScan struct {
	locations []string
	name      string
}

func refCanonical(b []byte) ([32]byte, *refScan, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	rs := &refScan{}
	h, err := rs.value(dec, nil)
	if err != nil {
		return h, nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return h, nil, errors.New("trailing data")
	}
	return h, rs, nil
}

func (rs *refScan) value(dec *json.Decoder, path []string) ([32]byte, error) {
	tok, err := dec.Token()
	if err != nil {
		return [32]byte{}, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			var members []member
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return [32]byte{}, err
				}
				key := kt.(string)
				h, err := rs.value(dec, append(slices.Clone(path), key))
				if err != nil {
					return [32]byte{}, err
				}
				if (len(path) == 0 && (serverOwned[key] || key == "projectFileVersion")) || (pathIs(path, "metadata") && serverOwned[key]) {
					continue
				}
				members = append(members, member{key, h})
			}
			if _, err := dec.Token(); err != nil {
				return [32]byte{}, err
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
		var elems [][32]byte
		for dec.More() {
			h, err := rs.value(dec, append(slices.Clone(path), "[]"))
			if err != nil {
				return [32]byte{}, err
			}
			elems = append(elems, h)
		}
		if _, err := dec.Token(); err != nil {
			return [32]byte{}, err
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
	case string:
		if pathIs(path, "assets", "documents", "[]", "location") {
			rs.locations = append(rs.locations, t)
		}
		if pathIs(path, "metadata", "projectName") {
			rs.name = t
		}
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
	return [32]byte{}, errors.New("unexpected token")
}

// checkAgainstReference fails when the scanner and the reference disagree
// on acceptance (for valid JSON) or on the result.
func checkAgainstReference(t *testing.T, in []byte) {
	t.Helper()
	want, ref, refErr := refCanonical(in)
	got, err := scanExport(bytes.NewReader(in), 10_000)
	if refErr != nil {
		if err == nil && json.Valid(in) {
			t.Fatalf("reference rejected valid JSON %q: %v", in, refErr)
		}
		if err == nil && !json.Valid(in) {
			t.Fatalf("scanner accepted invalid JSON %q", in)
		}
		return
	}
	if err != nil {
		t.Fatalf("scanner rejected %q that encoding/json accepts: %v", in, err)
	}
	if got.canonical != want {
		t.Fatalf("canonical hash differs from the reference for %q", in)
	}
	if !slices.Equal(got.locations, ref.locations) || got.projectName != ref.name {
		t.Fatalf("observations differ: %q/%v vs %q/%v", got.projectName, got.locations, ref.name, ref.locations)
	}
}

var scanSeeds = []string{
	`{}`, `[]`, `""`, `0`, `-0.5e+10`, `true`, `null`, ` {"a" : [ 1 , 2 ] } `,
	`{"metadata":{"projectName":"caf\u00e9 \"q\" \\ \/ \b\f\n\r\t","lastModifiedDateTime":"x"},"projectFileVersion":"1"}`,
	`{"assets":{"documents":[{"location":"d\ud83d\ude00.txt"},{"location":"plain.txt"}]}}`,
	"{\"metadata\":{\"projectName\":\"bad\xff\xfeutf8 and \xe2\x82\xac ok\"}}",
	`{"a":1,"a":2}`, `[1,2,3,3]`, `{"x":[{"b":1,"a":2},{"a":2,"b":1}]}`,
	`{"n":[0,1.0,1e5,1E-5,-0,12.5e+3]}`,
	// invalid
	`{`, `{"a"}`, `{"a":}`, `[1,]`, `{"a":1,}`, `01`, `1.`, `.5`, `-`, `1e`, `tru`, `nul`, `"abc`, "\"a\x01b\"", `{"a":1}}`, `[1 2]`, `{,}`, `"\x"`, `"\u12"`,
}

func TestScannerMatchesEncodingJSON(t *testing.T) {
	for _, s := range scanSeeds {
		checkAgainstReference(t, []byte(s))
	}
	files, _ := filepath.Glob("testdata/*.json")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkAgainstReference(t, b)
	}
}

func FuzzScannerMatchesEncodingJSON(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) { checkAgainstReference(t, in) })
}
