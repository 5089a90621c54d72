package sample_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/sample"
	"github.com/langsync/langsync/shared/sample/internal/gen"
)

// exported mirrors the exported project JSON
// (docs/reference/language-rest.md#exported-project-json) strictly enough to
// catch a wrong shape.
type exported struct {
	ProjectFileVersion string `json:"projectFileVersion"`
	StringIndexType    string `json:"stringIndexType"`
	Metadata           struct {
		ProjectKind               string          `json:"projectKind"`
		StorageInputContainerName string          `json:"storageInputContainerName"`
		Settings                  json.RawMessage `json:"settings"`
		ProjectName               string          `json:"projectName"`
		Multilingual              *bool           `json:"multilingual"`
		Description               string          `json:"description"`
		Language                  string          `json:"language"`
	} `json:"metadata"`
	Assets struct {
		ProjectKind string     `json:"projectKind"`
		Classes     []category `json:"classes"`
		Entities    []category `json:"entities"`
		Documents   []struct {
			Location string     `json:"location"`
			Language string     `json:"language"`
			Dataset  string     `json:"dataset"`
			Class    *category  `json:"class"`
			Classes  []category `json:"classes"`
			Entities []struct {
				RegionOffset int `json:"regionOffset"`
				RegionLength int `json:"regionLength"`
				Labels       []struct {
					Category string `json:"category"`
					Offset   int    `json:"offset"`
					Length   int    `json:"length"`
				} `json:"labels"`
			} `json:"entities"`
		} `json:"documents"`
	} `json:"assets"`
}

type category struct {
	Category string `json:"category"`
}

func mustParse(tb testing.TB, js []byte) *exported {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	var e exported
	if err := dec.Decode(&e); err != nil {
		tb.Fatalf("project JSON does not match the exported project JSON shape: %v", err)
	}
	return &e
}

func TestProjects(t *testing.T) {
	tests := []struct {
		p           *sample.Project
		docs        int
		classes     []string
		wantProbes  int
		minPerClass int
	}{
		{sample.Tickets(), 200, []string{"Billing", "Outage", "Account", "Shipping"}, 5, 50},
		{sample.Reviews(), 40, []string{"Quality", "Price", "Delivery", "Support"}, 3, 8},
		{sample.Orders(), 30, []string{"OrderNumber", "Date", "City", "Product"}, 2, 10},
	}
	for _, tt := range tests {
		t.Run(tt.p.Name, func(t *testing.T) {
			p := tt.p
			e := mustParse(t, p.JSON)
			if e.ProjectFileVersion != "2022-05-01" || e.StringIndexType != "Utf16CodeUnit" {
				t.Errorf("envelope = %q/%q, want 2022-05-01/Utf16CodeUnit", e.ProjectFileVersion, e.StringIndexType)
			}
			m := e.Metadata
			if m.ProjectKind != string(p.Kind) || e.Assets.ProjectKind != string(p.Kind) {
				t.Errorf("kinds = %q/%q, want %q", m.ProjectKind, e.Assets.ProjectKind, p.Kind)
			}
			if m.ProjectName != p.Name || m.StorageInputContainerName != p.Container || p.Container == "" ||
				m.Language != "en-us" || m.Multilingual == nil || string(m.Settings) != "{}" {
				t.Errorf("metadata = %+v", m)
			}
			declared := e.Assets.Classes
			if p.Kind == langsync.EntityRecognition {
				declared = e.Assets.Entities
				if len(e.Assets.Classes) != 0 {
					t.Errorf("NER project declares classes %v", e.Assets.Classes)
				}
			} else if len(e.Assets.Entities) != 0 {
				t.Errorf("classification project declares entities %v", e.Assets.Entities)
			}
			var names []string
			isDeclared := map[string]bool{}
			for _, c := range declared {
				names = append(names, c.Category)
				isDeclared[c.Category] = true
			}
			if strings.Join(names, ",") != strings.Join(tt.classes, ",") {
				t.Errorf("declared = %v, want %v", names, tt.classes)
			}
			if len(e.Assets.Documents) != tt.docs || len(p.Docs) != tt.docs {
				t.Errorf("documents: %d in JSON, %d files, want %d", len(e.Assets.Documents), len(p.Docs), tt.docs)
			}
			used := map[string]int{}
			datasets := map[string]int{}
			seen := map[string]bool{}
			for _, d := range e.Assets.Documents {
				content, ok := p.Docs[d.Location]
				if !ok {
					t.Errorf("%s: referenced but missing", d.Location)
					continue
				}
				if seen[d.Location] {
					t.Errorf("%s: referenced twice", d.Location)
				}
				seen[d.Location] = true
				if strings.TrimSpace(content) == "" {
					t.Errorf("%s: empty document", d.Location)
				}
				// Document names: letters and digits
				// (docs/reference/language-rest.md#throttling-and-limits),
				// .txt.
				base := strings.TrimSuffix(d.Location, ".txt")
				if base == d.Location || strings.IndexFunc(base, func(r rune) bool {
					return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
				}) >= 0 {
					t.Errorf("%s: want letters and digits with .txt", d.Location)
				}
				if d.Language != "en-us" {
					t.Errorf("%s: language %q", d.Location, d.Language)
				}
				datasets[d.Dataset]++
				switch p.Kind {
				case langsync.SingleLabelClassification:
					if d.Class == nil || d.Classes != nil || d.Entities != nil {
						t.Errorf("%s: single-label document needs exactly one class object", d.Location)
						continue
					}
					used[d.Class.Category]++
				case langsync.MultiLabelClassification:
					if d.Class != nil || len(d.Classes) == 0 {
						t.Errorf("%s: multi-label document needs a classes array", d.Location)
					}
					for _, c := range d.Classes {
						used[c.Category]++
					}
				case langsync.EntityRecognition:
					checkEntities(t, d.Location, content, d.Entities, used)
				}
			}
			for c, n := range used {
				if !isDeclared[c] {
					t.Errorf("class %q used by %d documents but not declared", c, n)
				}
			}
			for _, c := range tt.classes {
				if used[c] < tt.minPerClass {
					t.Errorf("class %q used %d times, want at least %d", c, used[c], tt.minPerClass)
				}
			}
			if datasets["Train"]+datasets["Test"] != tt.docs || datasets["Test"]*5 != tt.docs {
				t.Errorf("datasets = %v, want 80%% Train / 20%% Test", datasets)
			}
			if len(p.Probes) != tt.wantProbes {
				t.Errorf("probes = %d, want %d", len(p.Probes), tt.wantProbes)
			}
			for _, pr := range p.Probes {
				if pr.Text == "" || len(pr.Want) == 0 {
					t.Errorf("probe %+v lacks text or labels", pr)
				}
				for _, w := range pr.Want {
					if !isDeclared[w] {
						t.Errorf("probe %q wants undeclared %q", pr.Text, w)
					}
				}
			}
		})
	}
}

type region = []struct {
	RegionOffset int `json:"regionOffset"`
	RegionLength int `json:"regionLength"`
	Labels       []struct {
		Category string `json:"category"`
		Offset   int    `json:"offset"`
		Length   int    `json:"length"`
	} `json:"labels"`
}

// checkEntities checks that every label lies inside its region and the
// document, counted in UTF-16 code units, does not split a surrogate pair,
// is trimmed, and does not overlap the previous label.
func checkEntities(t *testing.T, loc, content string, regions region, used map[string]int) {
	t.Helper()
	u := utf16.Encode([]rune(content))
	if len(regions) == 0 {
		t.Errorf("%s: no entity regions", loc)
	}
	for _, r := range regions {
		if r.RegionOffset < 0 || r.RegionLength <= 0 || r.RegionOffset+r.RegionLength > len(u) {
			t.Errorf("%s: region %d+%d outside the document (%d UTF-16 units)", loc, r.RegionOffset, r.RegionLength, len(u))
			continue
		}
		end := -1
		for _, l := range r.Labels {
			used[l.Category]++
			if l.Offset < r.RegionOffset || l.Length <= 0 || l.Offset+l.Length > r.RegionOffset+r.RegionLength {
				t.Errorf("%s: label %s %d+%d outside its region", loc, l.Category, l.Offset, l.Length)
				continue
			}
			if l.Offset < end {
				t.Errorf("%s: label %s at %d overlaps the previous label", loc, l.Category, l.Offset)
			}
			end = l.Offset + l.Length
			// A low surrogate at the start, or just past the end, means the label cuts a pair.
			low := func(i int) bool { return i < len(u) && u[i] >= 0xDC00 && u[i] <= 0xDFFF }
			if low(l.Offset) || low(l.Offset+l.Length) {
				t.Errorf("%s: label %s splits a surrogate pair", loc, l.Category)
			}
			text := string(utf16.Decode(u[l.Offset : l.Offset+l.Length]))
			if strings.TrimSpace(text) != text || strings.TrimRight(text, ".,?!") != text {
				t.Errorf("%s: label %s covers %q: not trimmed to the entity", loc, l.Category, text)
			}
		}
	}
}

// TestOrdersOffsetsAreUTF16 pins a document whose labels come after a
// character outside the BMP: byte or rune offsets would be wrong here.
func TestOrdersOffsetsAreUTF16(t *testing.T) {
	p := sample.Orders()
	e := mustParse(t, p.JSON)
	checked := 0
	for _, d := range e.Assets.Documents {
		content := p.Docs[d.Location]
		if !strings.HasPrefix(content, "📦") {
			continue
		}
		u := utf16.Encode([]rune(content))
		for _, l := range d.Entities[0].Labels {
			got := string(utf16.Decode(u[l.Offset : l.Offset+l.Length]))
			byRunes := []rune(content)
			if l.Offset+l.Length <= len(byRunes) && string(byRunes[l.Offset:l.Offset+l.Length]) == got {
				t.Errorf("%s: label %q reads the same by runes; the sample should tell them apart", d.Location, got)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no Orders document starts with an emoji; the UTF-16 case is not covered")
	}
}

func TestWriteDocs(t *testing.T) {
	dir := t.TempDir()
	p := sample.Tickets()
	if err := p.WriteDocs(dir, "mydocs"); err != nil {
		t.Fatal(err)
	}
	for _, loc := range p.Locations() {
		b, err := os.ReadFile(filepath.Join(dir, "mydocs", loc))
		if err != nil {
			t.Fatalf("document not written: %v", err)
		}
		if string(b) != p.Docs[loc] {
			t.Fatalf("%s: content differs", loc)
		}
	}
	if err := p.WriteDocs(dir, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "tickets", "ticket001.txt")); err != nil {
		t.Fatalf("empty container should mean %q: %v", p.Container, err)
	}
	for _, bad := range []string{"../x", "a/b", ".."} {
		if err := p.WriteDocs(dir, bad); err == nil || !strings.Contains(err.Error(), "bad container name") {
			t.Errorf("WriteDocs(%q) err = %v, want bad container name", bad, err)
		}
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	src := sample.Documents(sample.All())
	rc, err := src.Open(ctx, "reviews", "review01.txt")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != sample.Reviews().Docs["review01.txt"] {
		t.Fatalf("Open returned %q", b)
	}
	for _, c := range [][2]string{{"reviews", "nope.txt"}, {"nope", "review01.txt"}, {"tickets", "review01.txt"}} {
		if _, err := src.Open(ctx, c[0], c[1]); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open(%s/%s) err = %v, want fs.ErrNotExist", c[0], c[1], err)
		}
	}
}

func TestJSONFor(t *testing.T) {
	p := sample.Tickets()
	js, err := p.JSONFor("TicketsCopy", "other")
	if err != nil {
		t.Fatal(err)
	}
	e := mustParse(t, js)
	if e.Metadata.ProjectName != "TicketsCopy" || e.Metadata.StorageInputContainerName != "other" {
		t.Fatalf("metadata = %+v", e.Metadata)
	}
	if len(e.Assets.Documents) != 200 || e.Metadata.Description == "" {
		t.Fatalf("other fields lost: %d documents, description %q", len(e.Assets.Documents), e.Metadata.Description)
	}
}

func TestCopiesAreIndependent(t *testing.T) {
	a := sample.Tickets()
	a.Docs["ticket001.txt"] = "changed"
	a.JSON[0] = 'x'
	a.Probes[0].Want[0] = "changed"
	b := sample.Tickets()
	if b.Docs["ticket001.txt"] == "changed" || b.JSON[0] == 'x' || b.Probes[0].Want[0] == "changed" {
		t.Fatal("a caller's change leaked into the shared sample")
	}
}

func TestByName(t *testing.T) {
	if p, err := sample.ByName("tickets"); err != nil || p.Name != "Tickets" {
		t.Fatalf("ByName(tickets) = %v, %v", p, err)
	}
	if _, err := sample.ByName("nope"); err == nil || !strings.Contains(err.Error(), "Tickets, Reviews, Orders") {
		t.Fatalf("ByName(nope) err = %v, want the list of names", err)
	}
}

// TestDataMatchesGenerator keeps the committed files and the generator in
// step: regenerate with `go generate ./shared/sample` after changing it.
func TestDataMatchesGenerator(t *testing.T) {
	files, err := gen.Files()
	if err != nil {
		t.Fatal(err)
	}
	onDisk := map[string]bool{}
	err = filepath.WalkDir("data", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel("data", p)
		onDisk[filepath.ToSlash(rel)] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join("data", filepath.FromSlash(name)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("data/%s differs from the generator; run go generate ./shared/sample", name)
		}
		delete(onDisk, name)
	}
	for name := range onDisk {
		t.Errorf("data/%s is not produced by the generator", name)
	}
}
