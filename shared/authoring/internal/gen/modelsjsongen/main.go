// Command modelsjsongen regenerates models_json.go of package authoring
// (go generate in shared/authoring runs it):
//
//	go run ./shared/authoring/internal/gen/modelsjsongen -dir shared/authoring
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/langsync/langsync/shared/authoring/internal/gen"
)

func main() {
	dir := flag.String("dir", ".", "directory of package authoring")
	flag.Parse()
	if err := gen.Write(*dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
