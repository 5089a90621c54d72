package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// mdLink matches inline markdown links and images: [text](target).
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// outsideRef matches a path in code spans or links that leaves the
// repository (../something.md), which readers of a standalone clone cannot open.
var outsideRef = regexp.MustCompile("[`(]\\.\\./[^`)\\s]*\\.md[`)]")

// TestDocLinksResolve checks that every relative link in README.md and
// docs/*.md names a file in the repository, so the docs stand alone.
func TestDocLinksResolve(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append([]string{filepath.Join(root, "README.md")}, files...)
	checked := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, f)
		for _, m := range mdLink.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			target, _, _ = strings.Cut(target, "#")
			p := filepath.Clean(filepath.Join(filepath.Dir(f), target))
			checked++
			if !strings.HasPrefix(p, root+string(filepath.Separator)) {
				t.Errorf("%s: link %q leaves the repository; link to a file inside it", rel, m[1])
				continue
			}
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s: link %q: no such file in the repository", rel, m[1])
			}
		}
		for _, m := range outsideRef.FindAllString(string(b), -1) {
			t.Errorf("%s: reference %s is outside the repository", rel, m)
		}
	}
	if checked == 0 {
		t.Fatal("no relative links found; the link pattern is wrong")
	}
}
