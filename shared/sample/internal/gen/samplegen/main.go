// Command samplegen regenerates the committed sample datasets:
//
//	go run ./shared/sample/internal/gen/samplegen -o shared/sample/data
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/langsync/langsync/shared/sample/internal/gen"
)

func main() {
	dir := flag.String("o", "data", "output directory (replaced)")
	flag.Parse()
	files, err := gen.Files()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := os.RemoveAll(*dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for name, b := range files {
		p := filepath.Join(*dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	fmt.Printf("samplegen: wrote %d files to %s\n", len(files), *dir)
}
