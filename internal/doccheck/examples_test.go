package doccheck

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// This file is exempt from the walk: its inputs are the forms the rules
// forbid.

// refPage is a small reference page the link cases point into.
const refPage = "# Reference\n\n## Job ids\n\n### Gotcha 4: follow service URLs verbatim\n\n## Foo\n\n## Foo\n"

// outsideDesignDoc is a path that leaves the repository, assembled so that
// this file itself points nowhere outside it.
var outsideDesignDoc = strings.Join([]string{"..", "shared", "DESIGN" + ".md"}, "/")

// machinePath is a path on a developer's machine, assembled likewise.
var machinePath = "/" + strings.Join([]string{"work", "main", "spec"}, "/")

// TestChecksCatchBadInput runs the checks over small in-memory trees: each
// case lists every finding it must produce as file:line rule, and no other.
func TestChecksCatchBadInput(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"SectionSign", map[string]string{
			"a/a.go": "package a\n\n// Job ids (spec §3).\n",
		}, []string{"a/a.go:3 section-sign"}},
		{"SectionSignInMarkdown", map[string]string{
			"docs/x.md": "# X\n\nErrors (§7): see above.\n",
		}, []string{"docs/x.md:3 section-sign"}},
		{"OldSpecFileWithSection", map[string]string{
			"a/a.go": "// (functions-custom-handler.md §3.2)\npackage a\n",
		}, []string{"a/a.go:1 section-sign", "a/a.go:1 old-spec-file"}},
		{"OldSpecFolderPath", map[string]string{
			"docs/x.md": "# X\n\nFacts: `spec/aws-lambda.md`.\n",
		}, []string{"docs/x.md:3 old-spec-file"}},
		{"BareReferencePage", map[string]string{
			"a/a.go":                          "package a\n\n// See aws-lambda.md.\n",
			"docs/reference/aws-lambda.md":    "# Lambda\n",
			"docs/reference/README.md":        "- [aws-lambda.md](aws-lambda.md)\n",
			"docs/y.md":                       "[Lambda](reference/aws-lambda.md), docs/reference/aws-lambda.md\n",
			"docs/reference/language-rest.md": refPage,
		}, []string{"a/a.go:3 bare-reference-page"}},
		{"GotchaNotLinked", map[string]string{
			"a/a.go": "package a\n\n// The docs' spelling (gotcha 19).\n",
		}, []string{"a/a.go:3 gotcha-number"}},
		{"GotchaLinkedToOtherNumber", map[string]string{
			"a/a.go":                          "package a\n\n// gotcha 5 (docs/reference/language-rest.md#gotcha-4-follow-service-urls-verbatim)\n",
			"docs/reference/language-rest.md": refPage,
		}, []string{"a/a.go:3 gotcha-number"}},
		{"GotchaLinkedOutsideReference", map[string]string{
			"docs/x.md": "# X\n\n## Gotcha 4: mine\n\nSee [gotcha 4](#gotcha-4-mine).\n",
		}, []string{"docs/x.md:3 gotcha-number", "docs/x.md:5 gotcha-number"}},
		{"GotchaLinked", map[string]string{
			"a/a.go":                          "package a\n\n// Gotcha 4 (docs/reference/language-rest.md#gotcha-4-follow-service-urls-verbatim).\n",
			"docs/x.md":                       "[gotcha 4](reference/language-rest.md#gotcha-4-follow-service-urls-verbatim)\n",
			"docs/reference/other.md":         "# O\n\n([gotcha 4](language-rest.md#gotcha-4-follow-service-urls-verbatim))\n",
			"docs/reference/language-rest.md": refPage + "\nSee [gotcha 4](#gotcha-4-follow-service-urls-verbatim).\n",
		}, nil},
		{"DesignDocOutside", map[string]string{
			"docs/x.md": "# X\n\nSee " + outsideDesignDoc + ".\n",
		}, []string{"docs/x.md:3 design-doc", "docs/x.md:3 parent-shared"}},
		{"ParentPathToMissingFile", map[string]string{
			"cmd/a/a_test.go": "package a\n\nvar p = \"../../shared/b/testdata/gone.json\"\n",
		}, []string{"cmd/a/a_test.go:3 parent-shared"}},
		{"ParentPathInsideRepo", map[string]string{
			"cmd/a/a_test.go":             "package a\n\nvar p = \"../../shared/b/testdata/f.json\"\n",
			"shared/b/testdata/f.json":    "{}",
			"docs/reference/x.md":         "[data](../../shared/b/testdata/)\n",
			"shared/b/testdata/other.txt": "",
		}, nil},
		{"MachinePath", map[string]string{
			"a/a.go": "package a\n\n// Copied from " + machinePath + ".\nvar u = \"https://example.com/work/x\"\nvar tmp = \"/tmp/x\"\n",
		}, []string{"a/a.go:3 machine-path"}},
		{"MissingAnchorInMention", map[string]string{
			"a/a.go":                          "package a\n\n// (docs/reference/language-rest.md#job-id)\n// (docs/reference/language-rest.md#job-ids)\n",
			"docs/reference/language-rest.md": refPage,
		}, []string{"a/a.go:3 doc-mention"}},
		{"MissingFileInMention", map[string]string{
			"a/a.go": "package a\n\nconst s = \"the containers (docs/config.md)\"\n",
		}, []string{"a/a.go:3 doc-mention"}},
		{"MarkdownLinks", map[string]string{
			"docs/reference/language-rest.md": refPage,
			"docs/x.md": "# X\n\n" +
				"[ok](reference/language-rest.md#job-ids) [dup](reference/language-rest.md#foo-1)\n" +
				"[bad anchor](reference/language-rest.md#job-id)\n" +
				"[third foo](reference/language-rest.md#foo-2)\n" +
				"[no file](nofile.md)\n" +
				"[outside](../../outside.md)\n" +
				"[here](#x) [not here](#y)\n" +
				"```\n[in code](nowhere.md)\n```\n" +
				"`[in a span](nowhere.md)` [web](https://example.com/a.md#b)\n",
		}, []string{"docs/x.md:4 md-link", "docs/x.md:5 md-link", "docs/x.md:6 md-link", "docs/x.md:7 md-link", "docs/x.md:8 md-link"}},
		{"SkippedDirectories", map[string]string{
			"a/testdata/x.md":          "spec §3\n",
			"node_modules/p/README.md": "spec §3\n",
			"a/x.txt":                  "spec §3\n",
		}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for name, body := range c.files {
				fsys[name] = &fstest.MapFile{Data: []byte(body)}
			}
			res, err := check(fsys)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range append(res.citations, res.links...) {
				got = append(got, fmt.Sprintf("%s:%d %s", f.file, f.line, f.rule))
			}
			slices.Sort(got)
			want := slices.Clone(c.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("findings\n got  %q\n want %q\nin full:", got, want)
				for _, f := range append(res.citations, res.links...) {
					t.Log(f)
				}
			}
		})
	}
}

// TestSlug checks heading anchors against GitHub's rules.
func TestSlug(t *testing.T) {
	for _, c := range []struct{ heading, want string }{
		{"Base URL, authentication and request rules", "base-url-authentication-and-request-rules"},
		{"HTTP trigger request (default mode)", "http-trigger-request-default-mode"},
		{"`lambda.Start` and handler signatures", "lambdastart-and-handler-signatures"},
		{"Gotcha 10: lastUpdatedDateTime versus lastUpdateDateTime", "gotcha-10-lastupdateddatetime-versus-lastupdatedatetime"},
		{"Measured (make bench; 2 shared cores, Azurite store)", "measured-make-bench-2-shared-cores-azurite-store"},
		{"snake_case and -dash", "snake_case-and--dash"},
		{"Ünïcode letters stay", "ünïcode-letters-stay"},
	} {
		if got := slug(c.heading); got != c.want {
			t.Errorf("slug(%q) = %q, want %q", c.heading, got, c.want)
		}
	}
	doc := "# A\n## A\n```\n# A\n```\n### A ###\n#NoSpace\n## [Linked](x.md) title\n"
	want := []string{"a", "a-1", "a-2", "linked-title"}
	if got := headingIDs(doc); !slices.Equal(got, want) {
		t.Errorf("headingIDs = %q, want %q", got, want)
	}
}
