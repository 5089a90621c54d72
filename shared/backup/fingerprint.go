package backup

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"slices"
)

// fingerprintVersion changes if the canonical form ever does, so old and
// new fingerprints never compare equal by accident.
const fingerprintVersion = "langsync-fingerprint-v1"

// Fingerprint returns the sha256 (hex) of the canonical form of an exported
// project plus the hashes of its documents (location -> sha256 hex; nil when
// documents are not read). Server-set timestamps and projectFileVersion are
// dropped and every array is compared as a set, so two exports of an
// unchanged project have the same fingerprint whatever their order.
func Fingerprint(export io.Reader, docHashes map[string]string) (string, error) {
	s, err := scanExport(&limitReader{r: export, max: DefaultLimits().MaxJSONBytes, what: "JSON size"}, DefaultLimits().MaxJSONDepth)
	if err != nil {
		return "", fmt.Errorf("backup: fingerprint: %w", err)
	}
	return fingerprint(s.canonical, docHashes)
}

func fingerprint(canonical [32]byte, docHashes map[string]string) (string, error) {
	locs := make([]string, 0, len(docHashes))
	for l := range docHashes {
		locs = append(locs, l)
	}
	slices.Sort(locs)
	fp := newFingerprinter(canonical)
	for _, l := range locs {
		if err := fp.add(l, docHashes[l]); err != nil {
			return "", err
		}
	}
	return fp.sum(), nil
}

// fingerprinter computes a fingerprint incrementally; documents must be
// added in location order (Write archives them in that order).
type fingerprinter struct {
	h    hash.Hash
	last string
}

func newFingerprinter(canonical [32]byte) *fingerprinter {
	h := sha256.New()
	h.Write([]byte(fingerprintVersion))
	h.Write(canonical[:])
	return &fingerprinter{h: h}
}

func (f *fingerprinter) add(loc, sha256hex string) error {
	if loc <= f.last && f.last != "" {
		return fmt.Errorf("backup: fingerprint: document %q added out of order", loc)
	}
	f.last = loc
	sum, err := hex.DecodeString(sha256hex)
	if err != nil || len(sum) != sha256.Size {
		return fmt.Errorf("backup: fingerprint: document %q has a malformed sha256 %q", loc, sha256hex)
	}
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(loc)))
	f.h.Write(n[:])
	f.h.Write([]byte(loc))
	f.h.Write(sum)
	return nil
}

func (f *fingerprinter) sum() string { return hex.EncodeToString(f.h.Sum(nil)) }
