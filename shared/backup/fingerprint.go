package backup

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
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
	h := sha256.New()
	h.Write([]byte(fingerprintVersion))
	h.Write(canonical[:])
	locs := make([]string, 0, len(docHashes))
	for l := range docHashes {
		locs = append(locs, l)
	}
	slices.Sort(locs)
	var n [8]byte
	for _, l := range locs {
		sum, err := hex.DecodeString(docHashes[l])
		if err != nil || len(sum) != sha256.Size {
			return "", fmt.Errorf("backup: fingerprint: document %q has a malformed sha256 %q", l, docHashes[l])
		}
		binary.BigEndian.PutUint64(n[:], uint64(len(l)))
		h.Write(n[:])
		h.Write([]byte(l))
		h.Write(sum)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
