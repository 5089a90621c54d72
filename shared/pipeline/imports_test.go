package pipeline

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportsStayInward: the pipeline depends on the domain package and the
// standard library only, directly or through other packages of the module.
// The config (and its YAML parser) reaches it through Options, filled by
// shared/app.
func TestImportsStayInward(t *testing.T) {
	const module = "github.com/langsync/langsync/"
	allowed := map[string]bool{module + "shared/langsync": true}
	seen := map[string]bool{}
	var walk func(dir, pkg string)
	walk = func(dir, pkg string) {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			src, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				first, _, _ := strings.Cut(path, "/")
				switch {
				case !strings.Contains(first, "."):
					// The standard library.
				case !allowed[path]:
					t.Errorf("%s imports %s: shared/pipeline may depend only on shared/langsync and the standard library", pkg, path)
				case !seen[path]:
					seen[path] = true
					walk(filepath.Join("..", "..", strings.TrimPrefix(path, module)), path)
				}
			}
		}
	}
	walk(".", "shared/pipeline")
}
