package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// azureSDK is every Azure SDK module (azblob, azidentity, azcore and the
// rest) and what only azblob brings in (arrow).
var azureSDK = []string{
	"github.com/Azure/",
	"github.com/AzureAD/",
	"github.com/apache/arrow-go/",
}

// own stands for the module's other packages in a rule's forbid list.
const own = "<module>/"

// rules are the dependency boundaries. pkg is relative to the module;
// direct checks only pkg's own imports, otherwise every package it links
// (tests excluded); forbid lists import path prefixes.
var rules = []struct {
	pkg    string
	direct bool
	forbid []string
	why    string
}{
	{"shared/backup", false, azureSDK,
		"the archive format works over the blobstore contract; only azblobstore links the Azure SDK"},
	{"shared/blobstore", false, azureSDK,
		"the store contract and the directory store stay Azure-free so that what builds on them does"},
	{"shared/langsync", true, []string{own},
		"the domain is what every other package points inward to: it imports none of them"},
	{"shared/langsync", false, azureSDK,
		"the domain is standard library only"},
	{"shared/lambdahandler", false, []string{own + "shared/customhandler"},
		"one host does not lean on another: the shapes both hosts need are shared/langsync's, the interfaces each host's own"},
	{"shared/customhandler", false, []string{own + "shared/lambdahandler", "github.com/aws/"},
		"one host does not lean on another: the Functions host links nothing of Lambda's"},
	{"shared/customhandler", false, []string{own + "shared/app", own + "shared/config", own + "shared/entry"},
		"hosts do not depend on the composition root: they declare interfaces that shared/entry implements and cmd/langsync wires"},
	{"shared/lambdahandler", false, []string{own + "shared/app", own + "shared/config", own + "shared/entry"},
		"hosts do not depend on the composition root: they declare interfaces that shared/entry implements and cmd/langsync wires"},
	{"shared/entry", false, []string{own + "shared/customhandler", own + "shared/lambdahandler", "github.com/aws/"},
		"the entry points are host-neutral: every host runs on them, none is linked by them"},
	{"cmd/langsync", true, []string{"github.com/aws/aws-lambda-go"},
		"the Lambda plumbing is shared/lambdahandler's (the only importer of aws-lambda-go); main only calls it"},
	{"cmd/langsync", true, []string{"github.com/aws/aws-sdk-go-v2", "github.com/aws/smithy-go"},
		"SQS is shared/sqswake's (the only importer of the AWS SDK); main only builds it"},
	{"shared/lambdahandler", false, []string{"github.com/aws/aws-sdk-go-v2", "github.com/aws/smithy-go", own + "shared/sqswake"},
		"the Lambda host speaks events only; it sends wake-ups through its Sender interface, which shared/sqswake implements"},
	{"shared/sqswake", false, append([]string{"github.com/aws/aws-lambda-go"}, azureSDK...),
		"the SQS adapter links the AWS SDK's SQS client and the domain, nothing of Lambda's runtime or Azure"},
}

func TestDependencyRules(t *testing.T) {
	g := load(t, "./...")
	for _, r := range rules {
		pkg := g.module + "/" + r.pkg
		if _, ok := g.pkgs[pkg]; !ok {
			t.Errorf("rule for %s: no such package (moved? update the rule)", r.pkg)
			continue
		}
		forbid := make([]string, len(r.forbid))
		for i, f := range r.forbid {
			forbid[i] = strings.Replace(f, own, g.module+"/", 1)
		}
		// One chain says what to cut; the rest usually hang off the same import.
		if v := g.violations(pkg, r.direct, forbid); len(v) > 0 {
			t.Errorf("%s must not depend on %s (%s): %s (forbidden packages reached: %d)",
				r.pkg, strings.Join(forbid, " "), r.why, strings.Join(v[0], " -> "), len(v))
		}
	}
}

// TestRulesSeeViolations: the checker finds a dependency that does exist,
// so a passing rule means something (go list output read correctly).
func TestRulesSeeViolations(t *testing.T) {
	g := load(t, "./shared/app")
	app := g.module + "/shared/app"
	if v := g.violations(app, false, azureSDK); len(v) == 0 {
		t.Fatalf("no Azure SDK found under %s, which opens Azure stores", app)
	}
	if v := g.violations(app, true, []string{g.module + "/shared/langsync"}); len(v) != 1 || len(v[0]) != 2 {
		t.Fatalf("direct import of shared/langsync by shared/app: %v", v)
	}
}

type graph struct {
	module string
	pkgs   map[string][]string // import path -> its imports
}

// load reads the packages matching pattern and all they link, with
// `go list -deps -json` run at the module root.
func load(t *testing.T, pattern string) *graph {
	t.Helper()
	var mod struct{ Path, Dir string }
	decode(t, goList(t, "", "-m", "-json"), func(d *json.Decoder) error { return d.Decode(&mod) })
	g := &graph{module: mod.Path, pkgs: map[string][]string{}}
	decode(t, goList(t, mod.Dir, "-deps", "-json=ImportPath,Imports", pattern), func(d *json.Decoder) error {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := d.Decode(&p); err != nil {
			return err
		}
		g.pkgs[p.ImportPath] = p.Imports
		return nil
	})
	return g
}

func goList(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

// decode calls next until the JSON stream ends.
func decode(t *testing.T, data []byte, next func(*json.Decoder) error) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(data))
	for {
		err := next(d)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("reading go list output: %v", err)
		}
	}
}

// violations returns, for each forbidden package pkg reaches (directly
// only, if direct), one import chain from pkg to it.
func (g *graph) violations(pkg string, direct bool, forbid []string) [][]string {
	bad := func(p string) bool {
		return p != pkg && slices.ContainsFunc(forbid, func(f string) bool { return strings.HasPrefix(p, f) })
	}
	// Breadth first, so each chain is a shortest one.
	from := map[string]string{pkg: ""}
	queue := []string{pkg}
	var out [][]string
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if bad(p) {
			var chain []string
			for q := p; q != ""; q = from[q] {
				chain = append(chain, q)
			}
			slices.Reverse(chain)
			out = append(out, chain)
			continue // its own imports would only repeat the finding
		}
		if direct && p != pkg {
			continue
		}
		for _, imp := range g.pkgs[p] {
			if _, seen := from[imp]; !seen {
				from[imp] = p
				queue = append(queue, imp)
			}
		}
	}
	return out
}
