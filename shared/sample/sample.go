package sample

//go:generate go run ./internal/gen/samplegen -o data

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/langsync/langsync/shared/langsync"
)

//go:embed data
var data embed.FS

// Project is one sample project: its exported JSON, its documents and probes.
// Every accessor returns a fresh copy, so callers may modify it freely.
type Project struct {
	// Name is the project name inside the JSON ("Tickets").
	Name string
	// Kind is the project kind.
	Kind langsync.ProjectKind
	// Container is metadata.storageInputContainerName in JSON.
	Container string
	// JSON is the exported project
	// (docs/reference/language-rest.md#exported-project-json):
	// projectFileVersion 2022-05-01, stringIndexType Utf16CodeUnit, metadata
	// and assets.
	JSON []byte
	// Docs maps each document location (file name) to its content.
	Docs map[string]string
	// Probes are texts with the labels a model trained on the project should
	// predict: classes for classification, entity categories for NER.
	Probes []Probe
}

// Probe is a text to predict and the labels expected for it.
type Probe struct {
	Text string   `json:"text"`
	Want []string `json:"want"`
}

// Tickets returns the single-label "Tickets" project: 200 support tickets in
// the classes Billing, Outage, Account and Shipping (160 Train, 40 Test), and
// five probes such as "I was charged twice this month" (Billing).
func Tickets() *Project { return load("tickets", "Tickets", langsync.SingleLabelClassification) }

// Reviews returns the multi-label "Reviews" project: 40 product reviews, each
// tagged with one to three of Quality, Price, Delivery and Support.
func Reviews() *Project {
	return load("reviews", "Reviews", langsync.MultiLabelClassification)
}

// Orders returns the custom NER "Orders" project: 30 order messages labelled
// with OrderNumber, Date, City and Product (offsets in UTF-16 code units).
func Orders() *Project { return load("orders", "Orders", langsync.EntityRecognition) }

// All returns every sample project.
func All() []*Project { return []*Project{Tickets(), Reviews(), Orders()} }

// ByName returns the sample project with the given name (case-insensitive),
// or an error listing the names there are.
func ByName(name string) (*Project, error) {
	var names []string
	for _, p := range All() {
		if strings.EqualFold(p.Name, name) {
			return p, nil
		}
		names = append(names, p.Name)
	}
	return nil, fmt.Errorf("sample: no sample project %q (have %s)", name, strings.Join(names, ", "))
}

type loaded struct {
	once sync.Once
	p    Project
	err  error
}

var cache sync.Map // dir -> *loaded

// load parses one project once and hands out copies. The embedded data is
// checked by the package tests, so a failure here is a build defect: panic.
func load(dir, name string, kind langsync.ProjectKind) *Project {
	v, _ := cache.LoadOrStore(dir, &loaded{})
	l := v.(*loaded)
	l.once.Do(func() { l.p, l.err = parse(dir, name, kind) })
	if l.err != nil {
		panic(l.err)
	}
	return l.p.clone()
}

func parse(dir, name string, kind langsync.ProjectKind) (Project, error) {
	p := Project{Name: name, Kind: kind, Docs: map[string]string{}}
	js, err := data.ReadFile(path.Join("data", dir, "project.json"))
	if err != nil {
		return p, fmt.Errorf("sample: reading %s project: %w", name, err)
	}
	p.JSON = js
	var meta struct {
		Metadata struct {
			StorageInputContainerName string `json:"storageInputContainerName"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(js, &meta); err != nil {
		return p, fmt.Errorf("sample: parsing %s project: %w", name, err)
	}
	p.Container = meta.Metadata.StorageInputContainerName
	pb, err := data.ReadFile(path.Join("data", dir, "probes.json"))
	if err != nil {
		return p, fmt.Errorf("sample: reading %s probes: %w", name, err)
	}
	if err := json.Unmarshal(pb, &p.Probes); err != nil {
		return p, fmt.Errorf("sample: parsing %s probes: %w", name, err)
	}
	if kind.Conversational() {
		return p, nil // utterances are in the project JSON: no documents
	}
	docs := path.Join("data", dir, "docs")
	entries, err := data.ReadDir(docs)
	if err != nil {
		return p, fmt.Errorf("sample: listing %s documents: %w", name, err)
	}
	for _, e := range entries {
		b, err := data.ReadFile(path.Join(docs, e.Name()))
		if err != nil {
			return p, fmt.Errorf("sample: reading %s document %s: %w", name, e.Name(), err)
		}
		p.Docs[e.Name()] = string(b)
	}
	return p, nil
}

func (p *Project) clone() *Project {
	c := *p
	c.JSON = bytes.Clone(p.JSON)
	c.Docs = make(map[string]string, len(p.Docs))
	for k, v := range p.Docs {
		c.Docs[k] = v
	}
	c.Probes = make([]Probe, len(p.Probes))
	for i, pr := range p.Probes {
		c.Probes[i] = Probe{Text: pr.Text, Want: append([]string(nil), pr.Want...)}
	}
	return &c
}

// Locations returns the document locations, sorted.
func (p *Project) Locations() []string {
	locs := make([]string, 0, len(p.Docs))
	for l := range p.Docs {
		locs = append(locs, l)
	}
	sort.Strings(locs)
	return locs
}

// ProbeTexts returns the probe texts alone (the form of the config's probes).
func (p *Project) ProbeTexts() []string {
	t := make([]string, len(p.Probes))
	for i, pr := range p.Probes {
		t[i] = pr.Text
	}
	return t
}

// JSONFor returns the project JSON with metadata.projectName and
// metadata.storageInputContainerName replaced (empty keeps the original), to
// import the sample under another name or with its documents elsewhere.
// Every other field is kept as it is.
func (p *Project) JSONFor(projectName, container string) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(p.JSON, &doc); err != nil {
		return nil, fmt.Errorf("sample: parsing %s project: %w", p.Name, err)
	}
	var meta map[string]json.RawMessage
	if err := json.Unmarshal(doc["metadata"], &meta); err != nil {
		return nil, fmt.Errorf("sample: parsing %s metadata: %w", p.Name, err)
	}
	set := func(k, v string) {
		if v != "" {
			b, _ := json.Marshal(v)
			meta[k] = b
		}
	}
	set("projectName", projectName)
	set("storageInputContainerName", container)
	m, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("sample: encoding %s metadata: %w", p.Name, err)
	}
	doc["metadata"] = m
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("sample: encoding %s project: %w", p.Name, err)
	}
	return out, nil
}

// WriteDocs writes every document to DIR/<container>/<location>, creating
// directories as needed; an empty container means p.Container. Existing files
// are overwritten.
func (p *Project) WriteDocs(dir, container string) error {
	if container == "" {
		container = p.Container
	}
	if container == "" || strings.ContainsAny(container, `/\`) || container == "." || container == ".." {
		return fmt.Errorf("sample: writing %s documents: bad container name %q (want a plain name such as %q)", p.Name, container, p.Container)
	}
	base := filepath.Join(dir, container)
	if err := os.MkdirAll(base, 0o755); err != nil {
		return fmt.Errorf("sample: writing %s documents: %w", p.Name, err)
	}
	for _, loc := range p.Locations() {
		if err := os.WriteFile(filepath.Join(base, loc), []byte(p.Docs[loc]), 0o644); err != nil {
			return fmt.Errorf("sample: writing %s document %s: %w", p.Name, loc, err)
		}
	}
	return nil
}

// Open serves a document of container p.Container, so that a Project can be
// the emulator's DocumentSource. A missing document or another container
// gives an error that Is fs.ErrNotExist.
func (p *Project) Open(ctx context.Context, container, name string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	content, ok := p.Docs[name]
	if !ok || container != p.Container {
		return nil, fmt.Errorf("sample: %s/%s: %w", container, name, fs.ErrNotExist)
	}
	return io.NopCloser(strings.NewReader(content)), nil
}

// Documents combines projects into one DocumentSource keyed by container.
type Documents []*Project

// Open serves name from the first project whose container matches.
func (d Documents) Open(ctx context.Context, container, name string) (io.ReadCloser, error) {
	for _, p := range d {
		if p.Container == container {
			return p.Open(ctx, container, name)
		}
	}
	return nil, fmt.Errorf("sample: %s/%s: %w", container, name, fs.ErrNotExist)
}
