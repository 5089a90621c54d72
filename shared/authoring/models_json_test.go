package authoring

import (
	"bytes"
	"os"
	"testing"

	"github.com/langsync/langsync/shared/authoring/internal/gen"
)

// TestModelsJSONGenerated: models_json.go is what go generate writes from
// the wire types declared now (run go generate ./shared/authoring after
// adding or renaming one).
func TestModelsJSONGenerated(t *testing.T) {
	want, err := gen.ModelsJSON(".")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(gen.Output)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run go generate ./shared/authoring", gen.Output)
	}
}
