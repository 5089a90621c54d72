package main

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestZipKeepsModesAndLayout(t *testing.T) {
	dir := t.TempDir()
	app := filepath.Join(dir, "app")
	files := map[string]struct {
		body string
		mode os.FileMode
	}{
		"host.json":          {`{"version":"2.0"}`, 0o644},
		"langsync":           {"\x7fELF...", 0o755},
		"sync/function.json": {`{"bindings":[]}`, 0o644},
	}
	for name, f := range files {
		p := filepath.Join(app, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.body), f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, f.mode); err != nil { // umask-proof
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "app.zip")
	if err := zipDir(out, app); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	got := map[string]*zip.File{}
	var names []string
	for _, f := range zr.File {
		got[f.Name] = f
		names = append(names, f.Name)
	}
	if want := []string{"host.json", "langsync", "sync/", "sync/function.json"}; len(names) != len(want) {
		t.Fatalf("entries %v, want %v (app root = zip root)", names, want)
	}
	for name, f := range files {
		zf, ok := got[name]
		if !ok {
			t.Fatalf("%s missing from %v", name, names)
		}
		if zf.Mode().Perm() != f.mode {
			t.Errorf("%s mode %v, want %v", name, zf.Mode().Perm(), f.mode)
		}
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != f.body {
			t.Errorf("%s content %q, want %q", name, b, f.body)
		}
	}
	// Same tree, same bytes.
	out2 := filepath.Join(dir, "app2.zip")
	if err := zipDir(out2, app); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(out)
	b, _ := os.ReadFile(out2)
	if !bytes.Equal(a, b) {
		t.Error("two zips of one tree differ")
	}
}

func TestZipErrors(t *testing.T) {
	dir := t.TempDir()
	if err := zipDir(filepath.Join(dir, "x.zip"), filepath.Join(dir, "missing")); err == nil {
		t.Error("missing directory accepted")
	}
	if _, err := os.Stat(filepath.Join(dir, "x.zip")); !os.IsNotExist(err) {
		t.Error("a failed zip left a file behind")
	}
}
