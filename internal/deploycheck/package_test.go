package deploycheck

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// entry is one file of the app package: its mode and, for JSON files the
// check reads, its content.
type entry struct {
	mode fs.FileMode
	data []byte
}

// packageProblems checks an app package (zip entries by name) against what
// the Functions host needs on Flex Consumption: host.json at the root, each
// function's folder directly under the root with its function.json, and the
// binary host.json names, executable. functions are the function names of
// the repository (functions/*).
func packageProblems(entries map[string]entry, functions []string) []string {
	var bad []string
	h, ok := entries["host.json"]
	if !ok {
		return []string{"host.json is not at the package root"}
	}
	var host struct {
		CustomHandler struct {
			Description struct {
				DefaultExecutablePath string `json:"defaultExecutablePath"`
			} `json:"description"`
		} `json:"customHandler"`
	}
	if err := json.Unmarshal(h.data, &host); err != nil {
		return []string{"host.json: " + err.Error()}
	}
	exe := host.CustomHandler.Description.DefaultExecutablePath
	if b, ok := entries[exe]; !ok {
		bad = append(bad, fmt.Sprintf("the binary %q host.json runs is not in the package", exe))
	} else if b.mode&0o111 != 0o111 {
		bad = append(bad, fmt.Sprintf("the binary %q has mode %v: not executable (the host fails with permission denied)", exe, b.mode))
	}
	for _, fn := range functions {
		if _, ok := entries[fn+"/function.json"]; !ok {
			bad = append(bad, fmt.Sprintf("%s/function.json is not at the package root (the host scans only the root's direct sub-folders)", fn))
		}
	}
	for name := range entries {
		if strings.Count(name, "/") > 1 && strings.HasSuffix(name, "function.json") {
			bad = append(bad, name+" is nested: the host will not find it")
		}
	}
	return bad
}

func readZip(t *testing.T, path string) map[string]entry {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out := map[string]entry{}
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		e := entry{mode: f.Mode()}
		if strings.HasSuffix(f.Name, ".json") {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			e.data, err = io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
		}
		out[f.Name] = e
	}
	return out
}

func repoFunctions(t *testing.T) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(root(t), "functions", "*", "function.json"))
	if err != nil || len(m) == 0 {
		t.Fatalf("no functions: %v", err)
	}
	var out []string
	for _, p := range m {
		out = append(out, filepath.Base(filepath.Dir(p)))
	}
	return out
}

// TestAppPackage builds the app package with the Makefile's own recipe
// (make app, cmd/appzip) into a temporary directory and checks it.
func TestAppPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the linux/amd64 binary")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not found")
	}
	dir := t.TempDir()
	zipPath := filepath.Join(dir, "app.zip")
	cmd := exec.Command("make", "app", "APP_DIR="+filepath.Join(dir, "app"), "APP_ZIP="+zipPath)
	cmd.Dir = root(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make app: %v\n%s", err, out)
	}
	entries := readZip(t, zipPath)
	for _, p := range packageProblems(entries, repoFunctions(t)) {
		t.Error(p)
	}
}

// TestPackageCheckSeesMismatches feeds packageProblems broken packages.
func TestPackageCheckSeesMismatches(t *testing.T) {
	host := []byte(`{"customHandler":{"description":{"defaultExecutablePath":"langsync"}}}`)
	good := func() map[string]entry {
		return map[string]entry{
			"host.json":          {0o644, host},
			"langsync":           {0o755, nil},
			"sync/function.json": {0o644, []byte(`{}`)},
		}
	}
	fns := []string{"sync"}
	if p := packageProblems(good(), fns); len(p) != 0 {
		t.Fatalf("a good package: %v", p)
	}
	cases := map[string]func(map[string]entry){
		"NoHostJSON":    func(e map[string]entry) { delete(e, "host.json") },
		"NotExecutable": func(e map[string]entry) { e["langsync"] = entry{0o644, nil} },
		"NoBinary":      func(e map[string]entry) { delete(e, "langsync") },
		"FunctionsNested": func(e map[string]entry) {
			e["functions/sync/function.json"] = e["sync/function.json"]
			delete(e, "sync/function.json")
		},
		"BinaryNamedOther": func(e map[string]entry) { e["handler"] = e["langsync"]; delete(e, "langsync") },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			e := good()
			mutate(e)
			if p := packageProblems(e, fns); len(p) == 0 {
				t.Error("found nothing wrong")
			}
		})
	}
}
