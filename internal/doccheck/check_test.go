package doccheck

import (
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode"
)

// exempt are files the walk does not read: the historic mapping of old
// citation forms, and the test's own table of bad inputs, which must
// contain the very forms the rules forbid.
var exempt = map[string]bool{
	"docs/reference/citations.tsv":       true,
	"internal/doccheck/examples_test.go": true,
}

// skipDirs are directory names the walk does not enter, wherever they are.
var skipDirs = map[string]bool{".git": true, "node_modules": true, "testdata": true}

// finding is one problem at one line of one file.
type finding struct {
	file string
	line int
	rule string
	msg  string
}

func (f finding) String() string { return fmt.Sprintf("%s:%d: %s: %s", f.file, f.line, f.rule, f.msg) }

// source is one file being checked, as read from fsys.
type source struct {
	fsys fs.FS
	name string // slash-separated, relative to the repository root
	md   bool
}

// inReference reports whether the file is one of the reference pages.
func (s source) inReference() bool { return s.md && strings.HasPrefix(s.name, "docs/reference/") }

// resolve joins a relative path to the file's directory. It returns false
// when the result leaves the repository.
func (s source) resolve(rel string) (string, bool) {
	p := path.Clean(path.Join(path.Dir(s.name), rel))
	return p, p != ".." && !strings.HasPrefix(p, "../")
}

// exists reports whether a repository-relative path names a file or directory.
func (s source) exists(p string) bool {
	_, err := fs.Stat(s.fsys, p)
	return err == nil
}

// citationRule flags a form of citation on one line. ok, when set, may
// accept a match (m holds the submatch indexes of the match in line).
type citationRule struct {
	name string
	re   *regexp.Regexp
	ok   func(s source, line string, m []int) bool
	fix  string
	// need lists strings one of which every match contains (compared in
	// lower case when fold is set): a line holding none is not searched.
	// Under -race the regexp engine is some 20 times slower, and most
	// lines match nothing, so this keeps the walk from costing 20 s.
	need []string
	fold bool
}

// mayMatch reports whether line holds one of the strings every match of r
// contains.
func (r citationRule) mayMatch(line string) bool {
	if r.fold {
		line = strings.ToLower(line)
	}
	for _, n := range r.need {
		if strings.Contains(line, n) {
			return true
		}
	}
	return len(r.need) == 0
}

// The forms are spelled in the rules with escapes and character classes, so
// that this file does not contain what it forbids.
var citationRules = []citationRule{
	{"section-sign", regexp.MustCompile(`\x{00A7}`), nil,
		"a section number of a spec that is not in the repository; cite docs/reference/<file>.md#<anchor>",
		[]string{"\u00A7"}, false},
	{"gotcha-number", regexp.MustCompile(`(?i)\bgotcha\s+(\d+)`), gotchaLinked,
		"a numbered gotcha must link its heading under Implementer gotchas in docs/reference/language-rest.md",
		[]string{"gotcha"}, true},
	{"old-spec-file", regexp.MustCompile(`\bspec/[\w-]+\.md\b|\b(?:functions-custom-handler|language-authoring)\.md\b`), nil,
		"a file of the external spec folder; cite the page under docs/reference that replaced it",
		[]string{".md"}, false},
	{"bare-reference-page", regexp.MustCompile(`(^|[^\w/.-])(?:aws-lambda|language-rest|functions-protocol|servicebus-amqp)\.md\b`), bareReferenceOK,
		"name the reference page by its path, docs/reference/<file>.md (reference/<file>.md from docs/)",
		[]string{".md"}, false},
	{"design-doc", regexp.MustCompile(`\bDESIGN\.md\b`), nil,
		"a design document outside the repository; cite docs/ or docs/reference instead",
		[]string{"DESIGN\x2Emd"}, false},
	{"parent-shared", regexp.MustCompile(`(?:\.\./)+shared\b[^\s"'\x60)\]>,;]*`), parentPathOK,
		"a path through a parent directory must stay inside the repository and name something that exists",
		[]string{"..\x2Fshared"}, false},
	{"machine-path", regexp.MustCompile(`(?:^|[^\w./:~-])/(?:work|home|Users|root|mnt)/|\b[A-Za-z]:\\(?:Users|work)\\`), nil,
		"an absolute path on someone's machine; use a path relative to the repository",
		[]string{"\x2Fwork/", "\x2Fhome/", "\x2FUsers/", "\x2Froot/", "\x2Fmnt/", ":\\"}, false},
}

// gotchaRef is a link or path to a gotcha heading: an optional page, then
// the anchor with the gotcha's number.
var gotchaRef = regexp.MustCompile(`([\w./-]*\.md)?#gotcha-(\d+)-`)

// gotchaLinked accepts a numbered gotcha when the same line links that
// gotcha's heading in docs/reference, and a reference page's own headings.
func gotchaLinked(s source, line string, m []int) bool {
	if s.inReference() && strings.HasPrefix(strings.TrimLeft(line, " "), "#") {
		return true
	}
	n := line[m[2]:m[3]]
	for _, r := range gotchaRef.FindAllStringSubmatch(line, -1) {
		if r[2] != n {
			continue
		}
		page := s.name
		switch {
		case r[1] == "":
		case strings.HasPrefix(r[1], "docs/"):
			page = r[1]
		default:
			p, ok := s.resolve(r[1])
			if !ok {
				continue
			}
			page = p
		}
		if strings.HasPrefix(page, "docs/reference/") {
			return true
		}
	}
	return false
}

// bareReferenceOK accepts a reference page's bare name inside the
// reference folder, where it resolves.
func bareReferenceOK(s source, _ string, _ []int) bool { return s.inReference() }

// parentPathOK accepts a ../ path that stays in the repository and exists.
func parentPathOK(s source, line string, m []int) bool {
	rel := strings.TrimRight(line[m[0]:m[1]], ".:")
	p, ok := s.resolve(rel)
	return ok && s.exists(p)
}

// checkCitations applies citationRules to every line of the file.
func checkCitations(s source, text string) []finding {
	var out []finding
	for i, line := range strings.Split(text, "\n") {
		for _, r := range citationRules {
			if !r.mayMatch(line) {
				continue
			}
			for _, m := range r.re.FindAllStringSubmatchIndex(line, -1) {
				if r.ok != nil && r.ok(s, line, m) {
					continue
				}
				out = append(out, finding{s.name, i + 1, r.name, fmt.Sprintf("%q: %s", strings.TrimLeft(line[m[0]:m[1]], " \t(`'\"[=:"), r.fix)})
			}
		}
	}
	return out
}

// docMention is a repository-relative path into docs/ as written in code
// comments and prose (docs/reference/language-rest.md#job-ids), with an
// optional anchor.
var docMention = regexp.MustCompile(`(?:^|[^\w./-])(docs/[\w./-]*?\.md)(?:#([\p{L}\p{N}_-]+))?`)

// mdLink is the target of an inline Markdown link or image: ](target) with
// an optional title.
var mdLink = regexp.MustCompile(`\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)

// scheme marks an absolute URL (https:, mailto:).
var scheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)

// anchorCache holds the heading anchors of each Markdown file read so far.
type anchorCache struct {
	fsys fs.FS
	m    map[string]map[string]bool
}

func (c *anchorCache) anchors(p string) (map[string]bool, error) {
	if a, ok := c.m[p]; ok {
		return a, nil
	}
	b, err := fs.ReadFile(c.fsys, p)
	if err != nil {
		return nil, err
	}
	a := map[string]bool{}
	for _, id := range headingIDs(string(b)) {
		a[id] = true
	}
	c.m[p] = a
	return a, nil
}

// checkTarget checks that p (repository-relative) exists and, for a
// Markdown file, that anchor names one of its headings.
func checkTarget(s source, c *anchorCache, line int, rule, written, p, anchor string) []finding {
	if !s.exists(p) {
		return []finding{{s.name, line, rule, fmt.Sprintf("%q: no such file %s in the repository", written, p)}}
	}
	if anchor == "" || !strings.HasSuffix(p, ".md") {
		return nil
	}
	a, err := c.anchors(p)
	if err != nil {
		return []finding{{s.name, line, rule, fmt.Sprintf("%q: %v", written, err)}}
	}
	if !a[anchor] {
		return []finding{{s.name, line, rule, fmt.Sprintf("%q: %s has no heading with anchor #%s", written, p, anchor)}}
	}
	return nil
}

// checkLinks resolves the file's docs/… mentions (from the repository
// root) and, in Markdown, its inline links (from the file's directory).
func checkLinks(s source, c *anchorCache, text string) []finding {
	var out []finding
	for i, line := range strings.Split(text, "\n") {
		for _, m := range docMention.FindAllStringSubmatch(line, -1) {
			out = append(out, checkTarget(s, c, i+1, "doc-mention", strings.TrimLeft(m[0], " (`'\"[*"), m[1], m[2])...)
		}
	}
	if !s.md {
		return out
	}
	for i, line := range strings.Split(proseOnly(text), "\n") {
		for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
			target := m[1]
			if scheme.MatchString(target) {
				continue
			}
			rel, anchor, _ := strings.Cut(target, "#")
			if u, err := url.PathUnescape(rel); err == nil {
				rel = u
			}
			p := s.name
			if rel != "" {
				var ok bool
				if p, ok = s.resolve(rel); !ok {
					out = append(out, finding{s.name, i + 1, "md-link", fmt.Sprintf("%q leaves the repository", target)})
					continue
				}
			}
			out = append(out, checkTarget(s, c, i+1, "md-link", target, p, anchor)...)
		}
	}
	return out
}

// fence opens or closes a fenced code block.
var fence = regexp.MustCompile("^ {0,3}(```|~~~)")

// codeSpan is an inline code span on one line.
var codeSpan = regexp.MustCompile("`+[^`\n]*`+")

// proseOnly blanks fenced code blocks and inline code spans, keeping line
// numbers, so that only real Markdown links remain.
func proseOnly(text string) string {
	lines := strings.Split(text, "\n")
	in := ""
	for i, l := range lines {
		if f := fence.FindStringSubmatch(l); f != nil {
			switch in {
			case "":
				in = f[1]
			case f[1]:
				in = ""
			}
			lines[i] = ""
			continue
		}
		if in != "" {
			lines[i] = ""
			continue
		}
		lines[i] = codeSpan.ReplaceAllStringFunc(l, func(s string) string { return strings.Repeat(" ", len(s)) })
	}
	return strings.Join(lines, "\n")
}

// atxHeading is a Markdown heading line; group 2 is its text without the
// optional closing hashes.
var atxHeading = regexp.MustCompile(`^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$`)

// linkText turns [text](target) into text inside a heading.
var linkText = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)

// headingIDs returns the anchors GitHub gives the headings of a Markdown
// document, in order; headings in fenced code blocks are not headings.
func headingIDs(text string) []string {
	var ids []string
	seen := map[string]int{}
	in := ""
	for _, l := range strings.Split(text, "\n") {
		if f := fence.FindStringSubmatch(l); f != nil {
			switch in {
			case "":
				in = f[1]
			case f[1]:
				in = ""
			}
			continue
		}
		if in != "" {
			continue
		}
		m := atxHeading.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		id := slug(linkText.ReplaceAllString(m[2], "$1"))
		if n, dup := seen[id]; dup {
			seen[id] = n + 1
			id += "-" + strconv.Itoa(n+1)
		} else {
			seen[id] = 0
		}
		ids = append(ids, id)
	}
	return ids
}

// slug is GitHub's anchor for a heading's text: lower case, punctuation
// other than '-' and '_' dropped, each space a '-'.
func slug(text string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(text)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// result is what one walk found.
type result struct {
	citations []finding
	links     []finding
	files     int
}

// check walks fsys (the repository root) and checks every .go and .md file.
func check(fsys fs.FS) (result, error) {
	var res result
	cache := &anchorCache{fsys: fsys, m: map[string]map[string]bool{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && skipDirs[d.Name()] {
				return fs.SkipDir
			}
			return nil
		}
		if exempt[p] || !(strings.HasSuffix(p, ".go") || strings.HasSuffix(p, ".md")) {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		s := source{fsys: fsys, name: p, md: strings.HasSuffix(p, ".md")}
		res.files++
		res.citations = append(res.citations, checkCitations(s, string(b))...)
		res.links = append(res.links, checkLinks(s, cache, string(b))...)
		return nil
	})
	return res, err
}

// repo returns the repository root as a file system.
func repo(t *testing.T) fs.FS {
	t.Helper()
	fsys := os.DirFS("../..")
	b, err := fs.ReadFile(fsys, "go.mod")
	if err != nil || !strings.HasPrefix(string(b), "module github.com/langsync/langsync\n") {
		t.Fatalf("../.. is not the repository root: %v", err)
	}
	return fsys
}

var (
	walkOnce  sync.Once
	walked    result
	walkedErr error
)

// walk checks the repository once for both tests.
func walk(t *testing.T) result {
	t.Helper()
	fsys := repo(t)
	walkOnce.Do(func() { walked, walkedErr = check(fsys) })
	if walkedErr != nil {
		t.Fatal(walkedErr)
	}
	if walked.files < 100 {
		t.Fatalf("only %d .go and .md files found; the walk is wrong", walked.files)
	}
	return walked
}

func report(t *testing.T, found []finding) {
	t.Helper()
	slices.SortFunc(found, func(a, b finding) int {
		if c := strings.Compare(a.file, b.file); c != 0 {
			return c
		}
		return a.line - b.line
	})
	for _, f := range found {
		t.Error(f)
	}
}

// TestNoExternalCitations fails on citations of sources that are not in
// the repository, naming file:line and what to cite instead.
func TestNoExternalCitations(t *testing.T) {
	report(t, walk(t).citations)
}

// TestLinksResolve fails on a docs/… mention or a relative Markdown link
// whose file does not exist or whose anchor matches no heading.
func TestLinksResolve(t *testing.T) {
	report(t, walk(t).links)
}
