// Package emulatortest starts Language resource emulators for tests:
// emulatortest.Start(t, nil) gives a resource on 127.0.0.1 with a random key,
// a fake clock and instant jobs, plus helpers to write labelled documents
// and to seed projects.
package emulatortest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/emulator"
)

// Epoch is where the fake clock of Start begins.
var Epoch = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// Resource is a running emulator.
type Resource struct {
	// URL is the endpoint (http://127.0.0.1:port), without /language.
	URL string
	// Key is a subscription key the resource accepts.
	Key string
	// Server is the emulator itself (faults, request log).
	Server *emulator.Server
	// Clock is the fake clock, or nil when opts.Clock was not a *FakeClock.
	Clock *emulator.FakeClock
	// DocsDir is the documents directory (DIR/<container>/<location>) when
	// Start created one (opts.Documents nil); empty otherwise.
	DocsDir string

	tb testing.TB
}

// Start runs an emulator on 127.0.0.1 for the test's duration. opts may be
// nil. Defaults, unless opts sets them: a random key; a FakeClock at Epoch;
// every job duration 0 unless opts.JobDurations names it (such jobs finish
// at the first status GET; give a kind a duration to watch it run, and move
// the clock with Advance); and a fresh documents directory (see WriteDocs).
func Start(tb testing.TB, opts *emulator.Options) *Resource {
	tb.Helper()
	var o emulator.Options
	if opts != nil {
		o = *opts
	}
	if len(o.Keys) == 0 {
		o.Keys = []string{randomKey()}
	}
	r := &Resource{Key: o.Keys[0], tb: tb}
	if o.Clock == nil {
		o.Clock = emulator.NewFakeClock(Epoch)
	}
	r.Clock, _ = o.Clock.(*emulator.FakeClock)
	durations := map[string]time.Duration{}
	for k := range emulator.DefaultJobDurations {
		durations[k] = 0
	}
	for k, d := range o.JobDurations {
		durations[k] = d
	}
	o.JobDurations = durations
	if o.Documents == nil {
		r.DocsDir = tb.TempDir()
		o.Documents = emulator.DirDocuments(r.DocsDir)
	}
	srv, err := emulator.New(o)
	if err != nil {
		tb.Fatalf("emulatortest: %v", err)
	}
	hs := httptest.NewServer(srv)
	tb.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	r.URL, r.Server = hs.URL, srv
	return r
}

func randomKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Advance moves the fake clock forward (jobs progress accordingly).
func (r *Resource) Advance(d time.Duration) {
	r.tb.Helper()
	if r.Clock == nil {
		r.tb.Fatalf("emulatortest: Advance needs the fake clock")
	}
	r.Clock.Advance(d)
}

// WriteDocs writes documents (location -> text) into the resource's
// documents directory under container.
func (r *Resource) WriteDocs(container string, docs map[string]string) {
	r.tb.Helper()
	if r.DocsDir == "" {
		r.tb.Fatalf("emulatortest: WriteDocs needs the directory Start creates (opts.Documents was set)")
	}
	WriteDocs(r.tb, r.DocsDir, container, docs)
}

// RemoveDoc deletes one document (to reproduce a storage that lacks it).
func (r *Resource) RemoveDoc(container, location string) {
	r.tb.Helper()
	if err := os.Remove(filepath.Join(r.DocsDir, container, location)); err != nil {
		r.tb.Fatalf("emulatortest: %v", err)
	}
}

// WriteDocs writes documents into dir/container/location.
func WriteDocs(tb testing.TB, dir, container string, docs map[string]string) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Join(dir, container), 0o755); err != nil {
		tb.Fatalf("emulatortest: %v", err)
	}
	for name, text := range docs {
		if err := os.WriteFile(filepath.Join(dir, container, name), []byte(text), 0o644); err != nil {
			tb.Fatalf("emulatortest: %v", err)
		}
	}
}

// Do sends one authenticated request (path relative to URL, query
// included) with an optional JSON body and returns status, headers and body.
func (r *Resource) Do(method, path string, body any) (int, http.Header, []byte) {
	r.tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			r.tb.Fatalf("emulatortest: %v", err)
		}
		rd = bytes.NewReader(j)
	}
	target := path
	if !strings.HasPrefix(path, "http") {
		target = r.URL + path
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		r.tb.Fatalf("emulatortest: %v", err)
	}
	req.Header.Set("Ocp-Apim-Subscription-Key", r.Key)
	if rd != nil {
		ct := "application/json"
		if method == http.MethodPatch {
			ct = "application/merge-patch+json"
		}
		req.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.tb.Fatalf("emulatortest: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		r.tb.Fatalf("emulatortest: reading %s %s: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, out
}

// APIVersion is the api-version the helpers use.
const APIVersion = "2023-04-01"

// Wait polls an operation-location until the job is terminal and returns
// the final job state. With the fake clock it advances the clock by step
// between polls (at most 10,000 polls); with another clock it polls every
// few milliseconds for up to 30 seconds of real time.
func (r *Resource) Wait(location string, step time.Duration) map[string]any {
	r.tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; r.Clock != nil && i < 10000 || r.Clock == nil && time.Now().Before(deadline); i++ {
		code, _, body := r.Do(http.MethodGet, location, nil)
		if code != 200 {
			r.tb.Fatalf("emulatortest: GET %s: %d %s", location, code, body)
		}
		var st map[string]any
		if err := json.Unmarshal(body, &st); err != nil {
			r.tb.Fatalf("emulatortest: %v", err)
		}
		switch st["status"] {
		case "succeeded", "failed", "cancelled", "partiallyCompleted":
			return st
		}
		if r.Clock != nil {
			r.Clock.Advance(step)
		} else {
			<-time.After(5 * time.Millisecond) // polling a condition with a deadline
		}
	}
	r.tb.Fatalf("emulatortest: job %s never ended", location)
	return nil
}

// Start202 sends a request that starts a job, checks the 202 and returns
// the operation-location.
func (r *Resource) Start202(method, path string, body any) string {
	r.tb.Helper()
	code, h, out := r.Do(method, path, body)
	if code != http.StatusAccepted {
		r.tb.Fatalf("emulatortest: %s %s: got %d %s, want 202", method, path, code, out)
	}
	loc := h.Get("operation-location")
	if loc == "" {
		r.tb.Fatalf("emulatortest: %s %s: no operation-location", method, path)
	}
	return loc
}

// Project is a small labelled project for tests: an export JSON body and
// the documents it refers to.
type Project struct {
	Name      string
	Container string
	Kind      string
	// Export is the exported-project JSON (the :import body).
	Export map[string]any
	// Docs maps location -> text.
	Docs map[string]string
}

// SingleLabelProject generates a deterministic single-label project with
// n documents per class over three classes (Billing, Outage, Account).
func SingleLabelProject(name, container string, n int) Project {
	vocab := map[string][]string{
		"Billing": {"invoice", "charged", "refund", "payment", "bill", "price", "card", "twice", "subscription", "fee"},
		"Outage":  {"down", "offline", "outage", "error", "unreachable", "website", "crash", "timeout", "server", "broken"},
		"Account": {"password", "login", "account", "email", "username", "reset", "profile", "locked", "signin", "settings"},
	}
	filler := []string{"the", "my", "is", "again", "today", "please", "help", "this", "and", "it"}
	classes := []string{"Billing", "Outage", "Account"}
	p := Project{Name: name, Container: container, Kind: "CustomSingleLabelClassification", Docs: map[string]string{}}
	var docs []any
	for ci, c := range classes {
		for i := 0; i < n; i++ {
			words := vocab[c]
			var sb []string
			for k := 0; k < 8; k++ {
				sb = append(sb, words[(i*3+k*7+ci)%len(words)])
				if k%2 == 0 {
					sb = append(sb, filler[(i+k)%len(filler)])
				}
			}
			loc := fmt.Sprintf("%s-%03d.txt", strings.ToLower(c), i)
			p.Docs[loc] = strings.Join(sb, " ")
			docs = append(docs, map[string]any{"location": loc, "language": "en-us", "class": map[string]any{"category": c}})
		}
	}
	var cls []any
	for _, c := range classes {
		cls = append(cls, map[string]any{"category": c})
	}
	p.Export = map[string]any{
		"projectFileVersion": "2022-05-01",
		"stringIndexType":    "Utf16CodeUnit",
		"metadata": map[string]any{
			"projectKind": p.Kind, "storageInputContainerName": container, "settings": map[string]any{},
			"projectName": name, "multilingual": false, "description": "generated by emulatortest", "language": "en-us",
		},
		"assets": map[string]any{"projectKind": p.Kind, "classes": cls, "documents": docs},
	}
	return p
}

// Load writes p's documents and imports p, waiting for the import job.
func (r *Resource) Load(p Project) {
	r.tb.Helper()
	r.WriteDocs(p.Container, p.Docs)
	loc := r.Start202(http.MethodPost, "/language/authoring/analyze-text/projects/"+p.Name+"/:import?api-version="+APIVersion, p.Export)
	if st := r.Wait(loc, time.Second); st["status"] != "succeeded" {
		r.tb.Fatalf("emulatortest: importing %s: %v", p.Name, st)
	}
}

// TrainAndDeploy trains model label on project and deploys it as
// deployment, waiting for both jobs.
func (r *Resource) TrainAndDeploy(project, label, deployment string) {
	r.tb.Helper()
	base := "/language/authoring/analyze-text/projects/" + project
	loc := r.Start202(http.MethodPost, base+"/:train?api-version="+APIVersion, map[string]any{"modelLabel": label, "trainingConfigVersion": "latest"})
	if st := r.Wait(loc, time.Second); st["status"] != "succeeded" {
		r.tb.Fatalf("emulatortest: training %s: %v", project, st)
	}
	loc = r.Start202(http.MethodPut, base+"/deployments/"+deployment+"?api-version="+APIVersion, map[string]any{"trainedModelLabel": label})
	if st := r.Wait(loc, time.Second); st["status"] != "succeeded" {
		r.tb.Fatalf("emulatortest: deploying %s: %v", project, st)
	}
}

// MultiLabelProject generates a deterministic multi-label project: n
// documents, each with one or two of Drama, Comedy and Action.
func MultiLabelProject(name, container string, n int) Project {
	vocab := map[string][]string{
		"Drama":  {"tears", "family", "loss", "grief", "tragic", "mother", "funeral", "betrayal"},
		"Comedy": {"funny", "joke", "laugh", "silly", "prank", "clown", "hilarious", "party"},
		"Action": {"explosion", "chase", "fight", "gun", "car", "hero", "battle", "mission"},
	}
	classes := []string{"Drama", "Comedy", "Action"}
	p := Project{Name: name, Container: container, Kind: "CustomMultiLabelClassification", Docs: map[string]string{}}
	var docs []any
	for i := 0; i < n; i++ {
		labels := []string{classes[i%3]}
		if i%2 == 1 {
			labels = append(labels, classes[(i+1)%3])
		}
		var cls []any
		for _, l := range labels {
			cls = append(cls, map[string]any{"category": l})
		}
		var text []string
		for k := 0; k < 6; k++ {
			for _, l := range labels {
				text = append(text, vocab[l][(i+k*3)%len(vocab[l])])
			}
			text = append(text, "the")
		}
		loc := fmt.Sprintf("movie-%03d.txt", i)
		p.Docs[loc] = strings.Join(text, " ")
		docs = append(docs, map[string]any{"location": loc, "language": "en-us", "classes": cls})
	}
	var cls []any
	for _, c := range classes {
		cls = append(cls, map[string]any{"category": c})
	}
	p.Export = exportOf(name, container, p.Kind, map[string]any{"projectKind": p.Kind, "classes": cls, "documents": docs})
	return p
}

// NERProject generates a deterministic custom NER project of n loan
// agreements labelled with Date, LenderName and BorrowerName.
func NERProject(name, container string, n int) Project {
	lenders := []string{"Contoso Bank", "Fabrikam Credit", "Woodgrove Bank", "Northwind Lending"}
	borrowers := []string{"John Smith", "Maria Garcia", "Wei Chen", "Amina Yusuf", "Lars Berg"}
	dates := []string{"March 3, 2021", "July 14, 2022", "January 9, 2020", "October 30, 2023"}
	p := Project{Name: name, Container: container, Kind: "CustomEntityRecognition", Docs: map[string]string{}}
	var docs []any
	for i := 0; i < n; i++ {
		d, l, b := dates[i%len(dates)], lenders[(i/2)%len(lenders)], borrowers[i%len(borrowers)]
		text := "This loan agreement is dated " + d + ". The lender " + l + " lends money to the borrower " + b + " under these terms."
		var labels []any
		for _, e := range []struct{ cat, val string }{{"Date", d}, {"LenderName", l}, {"BorrowerName", b}} {
			labels = append(labels, map[string]any{"category": e.cat, "offset": strings.Index(text, e.val), "length": len(e.val)})
		}
		loc := fmt.Sprintf("%02d.txt", i+1)
		p.Docs[loc] = text
		docs = append(docs, map[string]any{"location": loc, "language": "en-us",
			"entities": []any{map[string]any{"regionOffset": 0, "regionLength": len(text), "labels": labels}}})
	}
	ents := []any{map[string]any{"category": "Date"}, map[string]any{"category": "LenderName"}, map[string]any{"category": "BorrowerName"}}
	p.Export = exportOf(name, container, p.Kind, map[string]any{"projectKind": p.Kind, "entities": ents, "documents": docs})
	return p
}

func exportOf(name, container, kind string, assets map[string]any) map[string]any {
	return map[string]any{
		"projectFileVersion": "2022-05-01",
		"stringIndexType":    "Utf16CodeUnit",
		"metadata": map[string]any{
			"projectKind": kind, "storageInputContainerName": container, "settings": map[string]any{},
			"projectName": name, "multilingual": false, "description": "generated by emulatortest", "language": "en-us",
		},
		"assets": assets,
	}
}
