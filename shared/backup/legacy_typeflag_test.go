package backup_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/langsync/langsync/shared/backup"
)

// TestLegacyRegularFileTypeflag: old tar writers mark regular files with a
// NUL typeflag (tar.TypeRegA) instead of '0'. archive/tar's reader turns
// those into TypeReg, so such a backup is still accepted without checkEntry
// naming the deprecated constant.
func TestLegacyRegularFileTypeflag(t *testing.T) {
	archive, _ := mustWrite(t, readFixture(t, "studio-export.json"), studioDocs())
	zr, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	patched := 0
	for off := 0; off+512 <= len(raw); {
		hdr := raw[off : off+512]
		if bytes.Equal(hdr, make([]byte, 512)) {
			break // end-of-archive blocks
		}
		size, err := strconv.ParseInt(strings.Trim(string(hdr[124:136]), " \x00"), 8, 64)
		if err != nil {
			t.Fatalf("header at %d: size: %v", off, err)
		}
		if hdr[156] == '0' {
			hdr[156] = 0
			// The checksum is the byte sum with its own field read as spaces.
			copy(hdr[148:156], "        ")
			sum := 0
			for _, b := range hdr {
				sum += int(b)
			}
			copy(hdr[148:156], fmt.Sprintf("%06o\x00 ", sum))
			patched++
		}
		off += 512 + int((size+511)/512*512)
	}
	if patched == 0 {
		t.Fatal("no regular file header found to patch")
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(raw)
	zw.Close()
	if _, err := backup.Verify(bytes.NewReader(buf.Bytes()), nil); err != nil {
		t.Fatalf("Verify of a backup with %d NUL-typeflag entries: %v", patched, err)
	}
}
