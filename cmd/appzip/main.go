// Command appzip zips a directory for deployment (make app), keeping Unix
// file modes so that the custom handler binary stays executable: the
// Functions host, like Lambda, fails with "permission denied" on a zip that
// dropped the executable bit
// (docs/reference/functions-protocol.md#building-and-zipping-the-binary).
// It uses only archive/zip, so packaging needs no zip tool on the build
// machine.
// Entries are sorted and carry a fixed time, so the same tree gives the
// same bytes.
//
// Usage: go run ./cmd/appzip -o dist/app.zip dist/app
package main

import (
	"archive/zip"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// epoch is the fixed modification time of every entry (the zip format's
// DOS time cannot go below 1980).
var epoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

func main() {
	out := flag.String("o", "", "zip file to write (required)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "Usage: appzip -o FILE.zip DIR")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *out == "" || flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := zipDir(*out, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "appzip:", err)
		os.Exit(1)
	}
}

// zipDir writes every file under dir into the zip file out, with paths
// relative to dir (dir itself is the zip root).
func zipDir(out, dir string) (err error) {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("reading %s: %w", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("creating %s: %w", out, err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("closing %s: %w", out, cerr)
		}
		if err != nil {
			os.Remove(out)
		}
	}()
	zw := zip.NewWriter(f)
	// WalkDir visits entries in lexical order.
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() && !info.IsDir() {
			return fmt.Errorf("%s is neither a file nor a directory", path)
		}
		hdr, err := zip.FileInfoHeader(info) // records the Unix mode
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		hdr.Modified = epoch
		if info.IsDir() {
			hdr.Name += "/"
			hdr.Method = zip.Store
			_, err := zw.CreateHeader(hdr)
			return err
		}
		hdr.Method = zip.Deflate
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		src, err := os.Open(path)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(w, src)
		return err
	})
	if err != nil {
		return fmt.Errorf("zipping %s: %w", dir, err)
	}
	if err := zw.Close(); err != nil {
		return errors.Join(fmt.Errorf("finishing %s", out), err)
	}
	return nil
}
