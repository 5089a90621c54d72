package gen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writePkg(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "models.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestWireTypesPicked(t *testing.T) {
	dir := writePkg(t, `package authoring

type B struct {
	Extra map[string]json.RawMessage
	raw   rawFields
}

type NotWire struct{ Extra map[string]string }

type A struct {
	N     int
	Extra map[string]json.RawMessage
	raw   rawFields
}
`)
	b, err := ModelsJSON(dir)
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	if !strings.HasPrefix(src, "// Code generated ") || !strings.Contains(src, "DO NOT EDIT.\n") {
		t.Errorf("no generated-code header:\n%s", src)
	}
	// Declaration order, not alphabetical; NotWire gets nothing.
	b1, a1 := strings.Index(src, "func (x *B) UnmarshalJSON"), strings.Index(src, "func (x *A) UnmarshalJSON")
	if b1 < 0 || a1 < 0 || b1 > a1 || strings.Contains(src, "NotWire") {
		t.Errorf("methods for the wrong types or order:\n%s", src)
	}
}

func TestHalfWireTypeRefused(t *testing.T) {
	dir := writePkg(t, `package authoring

type Half struct {
	Extra map[string]json.RawMessage
}
`)
	if _, err := ModelsJSON(dir); err == nil || !strings.Contains(err.Error(), "Half has only one of Extra and raw") {
		t.Fatalf("err = %v", err)
	}
}
