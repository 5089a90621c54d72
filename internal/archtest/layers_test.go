package archtest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// layers place every package of the module (docs/architecture.md): an
// import may point to a lower layer, or within a layer only along an edge
// listed in sameLayer. A package that matches no entry fails the test, so a
// new package has to be placed (and the page updated) before it builds on
// anything. Entries are path prefixes relative to the module; the longest
// match wins.
var layers = map[string]int{
	"shared/langsync": 0,

	"shared/authoring":         1,
	"shared/predict":           1,
	"shared/internal/langhttp": 1,
	"shared/queue":             1,
	"shared/config":            1,
	"shared/sample":            1,
	"shared/backup":            1,
	"shared/blobstore":         1,
	"shared/sqswake":           1,
	"shared/metrics":           1, // OpenTelemetry metrics, Prometheus text, OTLP
	"shared/heartbeat":         1, // the dead-man's switch ping

	"shared/pipeline": 2,

	"shared/app":   3,
	"shared/entry": 3,
	// the status page renders the pipeline's status (no app, no host)
	"shared/statuspage": 3,

	"shared/customhandler": 4,
	"shared/lambdahandler": 4,
	"shared/local":         4,

	"cmd/":                 5,
	"internal/":            5, // repository checks (archtest, doccheck)
	"internal/deploycheck": 5, // infra, azure.yaml, host.json and function.json agree; the app package is complete
}

// standIns are the emulators and test listeners: they import nothing of
// the product (only their own subpackages), so that a misreading of a
// contract cannot pass both sides' tests, and only commands and tests
// import them.
var standIns = []string{"shared/emulator", "shared/sbemulator", "shared/blobstore/azuritetest", "shared/nettest"}

// sameLayer are the allowed imports within a layer, each for a reason
// given in docs/architecture.md.
var sameLayer = map[string][]string{
	"shared/backup":                {"shared/blobstore"},                                 // the archive over the store contract
	"shared/blobstore/azblobstore": {"shared/blobstore"},                                 // an implementation of the contract
	"shared/blobstore/storeopen":   {"shared/blobstore", "shared/blobstore/azblobstore"}, // picks one from a locator
	"shared/authoring":             {"shared/internal/langhttp"},                         // one HTTP stack for Language
	"shared/predict":               {"shared/internal/langhttp"},
	"shared/entry":                 {"shared/app", "shared/statuspage"}, // the entry points run the app's pipeline and render its page
}

// only narrows what some packages may import of the module to a list:
// the step machine and the two platform hosts know the domain alone and are
// handed everything else through interfaces they declare.
var only = map[string][]string{
	"shared/pipeline":      {"shared/langsync"},
	"shared/customhandler": {"shared/langsync"},
	"shared/lambdahandler": {"shared/langsync"},
	"shared/sqswake":       {"shared/langsync"},
}

// isTestSupport: packages named *test exist for tests only (simulators,
// fakes, shared suites); they may import what they drive, except commands.
func isTestSupport(rel string) bool {
	last := rel[strings.LastIndex(rel, "/")+1:]
	return strings.HasSuffix(last, "test") && !slices.Contains(standIns, rel)
}

func isStandIn(rel string) (root string, ok bool) {
	for _, s := range standIns {
		if rel == s || strings.HasPrefix(rel, s+"/") {
			return s, true
		}
	}
	return "", false
}

func layerOf(rel string) (int, bool) {
	best, layer := -1, 0
	for prefix, l := range layers {
		if (rel == prefix || strings.HasPrefix(rel, strings.TrimSuffix(prefix, "/")+"/")) && len(prefix) > best {
			best, layer = len(prefix), l
		}
	}
	return layer, best >= 0
}

// checkLayers returns one message per import that breaks the layering.
func checkLayers(module string, pkgs map[string][]string) []string {
	var bad []string
	rel := func(p string) (string, bool) {
		if p == module {
			return "", true
		}
		return strings.CutPrefix(p, module+"/")
	}
	for p, imports := range pkgs {
		from, ok := rel(p)
		if !ok {
			continue
		}
		testSupport := isTestSupport(from)
		root, standIn := isStandIn(from)
		standIn = standIn && !testSupport
		fromLayer, placed := layerOf(from)
		if !standIn && !testSupport && !placed {
			bad = append(bad, fmt.Sprintf("%s is in no layer: place it in internal/archtest's layers and docs/architecture.md", from))
			continue
		}
		for _, imp := range imports {
			to, ok := rel(imp)
			if !ok {
				continue
			}
			if allowed, ok := only[from]; ok && !slices.Contains(allowed, to) {
				bad = append(bad, fmt.Sprintf("%s -> %s: %s imports only %s of the module", from, to, from, strings.Join(allowed, ", ")))
				continue
			}
			toRoot, toStandIn := isStandIn(to)
			switch {
			case standIn:
				if toRoot != root {
					bad = append(bad, fmt.Sprintf("%s -> %s: a stand-in imports nothing of the product", from, to))
				}
			case toStandIn && !testSupport && !strings.HasPrefix(from, "cmd/"):
				bad = append(bad, fmt.Sprintf("%s -> %s: only commands and tests use the stand-ins", from, to))
			case testSupport:
				if strings.HasPrefix(to, "cmd/") {
					bad = append(bad, fmt.Sprintf("%s -> %s: test support does not import commands", from, to))
				}
			case toStandIn || isTestSupport(to):
				// cmd importing a stand-in; a test-support import from a
				// non-test file is caught by the go vet of tests anyway.
			default:
				toLayer, _ := layerOf(to)
				switch {
				case toLayer > fromLayer:
					bad = append(bad, fmt.Sprintf("%s (layer %d) -> %s (layer %d): an import points up", from, fromLayer, to, toLayer))
				case toLayer == fromLayer && !sameLayerOK(from, to):
					bad = append(bad, fmt.Sprintf("%s -> %s: an import within layer %d that sameLayer does not list", from, to, fromLayer))
				}
			}
		}
	}
	slices.Sort(bad)
	return bad
}

func sameLayerOK(from, to string) bool {
	// A package's own subpackages belong to it (and a generator command to
	// the generator package above it).
	if strings.HasPrefix(to, from+"/") || strings.HasPrefix(from, to+"/") && strings.Contains(from, "/internal/") {
		return true
	}
	if strings.HasPrefix(from, "cmd/") {
		return false
	}
	for f, tos := range sameLayer {
		if f == from && slices.Contains(tos, to) {
			return true
		}
	}
	return false
}

func TestLayers(t *testing.T) {
	g := load(t, "./...")
	for _, msg := range checkLayers(g.module, g.pkgs) {
		t.Error(msg)
	}
}

// TestLayersSeeViolations: each kind of break is reported, so a pass is
// not an empty check.
func TestLayersSeeViolations(t *testing.T) {
	const m = "example.com/m"
	tests := []struct {
		name string
		pkgs map[string][]string
		want string
	}{
		{"Up", map[string][]string{m + "/shared/backup": {m + "/shared/app"}}, "an import points up"},
		{"SameLayerUnlisted", map[string][]string{m + "/shared/queue": {m + "/shared/config"}}, "within layer 1"},
		{"Unplaced", map[string][]string{m + "/shared/newthing": nil}, "is in no layer"},
		{"StandInImportsProduct", map[string][]string{m + "/shared/emulator": {m + "/shared/langsync"}}, "a stand-in imports nothing"},
		{"ProductImportsStandIn", map[string][]string{m + "/shared/app": {m + "/shared/emulator"}}, "only commands and tests"},
		{"Only", map[string][]string{m + "/shared/pipeline": {m + "/shared/config"}}, "imports only shared/langsync"},
		{"TestSupportImportsCmd", map[string][]string{m + "/shared/queue/queuetest": {m + "/cmd/langsync"}}, "test support does not import commands"},
		{"Fine", map[string][]string{m + "/shared/app": {m + "/shared/pipeline", "fmt"}, m + "/cmd/langsync": {m + "/shared/emulator"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Join(checkLayers(m, tt.pkgs), "\n")
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("checkLayers = %q, want it to say %q", got, tt.want)
			}
		})
	}
}
