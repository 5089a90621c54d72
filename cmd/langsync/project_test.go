package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/langsync/langsync/shared/emulator/emulatortest"
	"github.com/langsync/langsync/shared/sample"
)

const cliKey = "cli-k3y-0123456789"

const cliBase = "/language/authoring/analyze-text/projects"

const ticketsExport = `{"projectFileVersion":"2022-05-01","stringIndexType":"Utf16CodeUnit","metadata":{"projectKind":"CustomSingleLabelClassification","storageInputContainerName":"docs","settings":{},"projectName":"Tickets","multilingual":false,"description":"","language":"en-us","futureField":{"kept":true}},"assets":{"projectKind":"CustomSingleLabelClassification","classes":[{"category":"Billing"}],"documents":[{"location":"a.txt","language":"en-us","class":{"category":"Billing"}}]}}`

// fakeLanguage is a small authoring service for CLI tests: one project,
// jobs that report running once (training with a percentage) and then
// succeed or fail as told.
type fakeLanguage struct {
	t         *testing.T
	mu        sync.Mutex
	polls     map[string]int
	imported  []byte
	trainBody []byte
	deployed  string
	deleted   bool
	failJob   string // kind whose job ends failed
	srv       *httptest.Server
}

func newFakeLanguage(t *testing.T) *fakeLanguage {
	f := &fakeLanguage{t: t, polls: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeLanguage) env() map[string]string {
	return map[string]string{"LANGSYNC_ENDPOINT": f.srv.URL, "LANGSYNC_KEY": cliKey}
}

func (f *fakeLanguage) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Ocp-Apim-Subscription-Key") != cliKey {
		reply(w, 401, `{"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API endpoint."}}`)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, cliBase)
	body, _ := io.ReadAll(r.Body)
	project := `{"createdDateTime":"2026-11-01T10:00:00Z","lastModifiedDateTime":"2026-11-20T10:00:00Z","lastTrainedDateTime":"2026-11-21T10:00:00Z","projectKind":"CustomSingleLabelClassification","storageInputContainerName":"docs","projectName":"Tickets","language":"en-us"}`
	job := func(kind string) {
		w.Header().Set("operation-location", f.srv.URL+cliBase+"/Tickets/"+kind+"/jobs/"+kind+"1?api-version="+r.URL.Query().Get("api-version"))
		w.WriteHeader(202)
	}
	switch {
	case r.Method == "GET" && p == "":
		reply(w, 200, `{"value":[`+project+`],"nextLink":null}`)
	case r.Method == "GET" && p == "/Tickets":
		if f.deleted {
			reply(w, 404, `{"error":{"code":"ProjectNotFound","message":"The specified project was not found."}}`)
			return
		}
		reply(w, 200, project)
	case r.Method == "GET" && p == "/Nope":
		reply(w, 404, `{"error":{"code":"ProjectNotFound","message":"The specified project was not found."}}`)
	case r.Method == "GET" && p == "/Tickets/models":
		reply(w, 200, `{"value":[{"label":"m1","modelId":"m1-20261121T100000-abc","lastTrainedDateTime":"2026-11-21T10:00:00Z","lastTrainingDurationInSeconds":120,"modelExpirationDate":"2027-10-28","modelTrainingConfigVersion":"2022-05-01","hasSnapshot":true}],"nextLink":null}`)
	case r.Method == "GET" && p == "/Tickets/deployments":
		reply(w, 200, `{"value":[{"deploymentName":"production","modelId":"m1-20261121T100000-abc","lastTrainedDateTime":"2026-11-21T10:00:00Z","lastDeployedDateTime":"2026-11-21T11:00:00Z","deploymentExpirationDate":"2027-10-28","modelTrainingConfigVersion":"2022-05-01"}],"nextLink":null}`)
	case r.Method == "POST" && p == "/Tickets/:export":
		job("export")
	case r.Method == "GET" && p == "/Tickets/export/jobs/export1/result":
		reply(w, 200, ticketsExport)
	case r.Method == "POST" && p == "/Tickets/:import":
		f.imported = body
		job("import")
	case r.Method == "POST" && p == "/Tickets/:train":
		f.trainBody = body
		job("train")
	case r.Method == "PUT" && p == "/Tickets/deployments/production":
		f.deployed = string(body)
		job("deployments/production")
	case r.Method == "DELETE" && p == "/Tickets":
		f.deleted = true
		w.Header().Set("operation-location", f.srv.URL+cliBase+"/global/deletion-jobs/d1?api-version=2023-04-01")
		w.WriteHeader(202)
	case r.Method == "GET" && strings.Contains(p, "jobs/"):
		kind := strings.Split(strings.TrimPrefix(p, "/Tickets/"), "/")[0]
		f.polls[kind]++
		status, extra := "running", ""
		if kind == "train" {
			extra = `,"result":{"modelLabel":"m1","trainingConfigVersion":"2022-05-01","trainingStatus":{"percentComplete":40,"status":"running"}}`
		}
		if f.polls[kind] > 1 {
			status = "succeeded"
			if kind == "train" {
				extra = `,"result":{"modelLabel":"m1","trainingConfigVersion":"2022-05-01","trainingStatus":{"percentComplete":100,"status":"succeeded"},"evaluationStatus":{"percentComplete":100,"status":"succeeded"}}`
			}
			if kind == "export" {
				extra = `,"resultUrl":"` + f.srv.URL + cliBase + `/Tickets/export/jobs/export1/result?api-version=2023-04-01"`
			}
			if kind != "" && kind == f.failJob {
				status = "failed"
				extra = `,"errors":[{"code":"InvalidRequest","message":"Document a.txt not found in container docs."}]`
			}
		}
		reply(w, 200, `{"jobId":"`+kind+`1","createdDateTime":"2026-12-01T08:00:00Z","lastUpdatedDateTime":"2026-12-01T08:00:01Z","status":"`+status+`"`+extra+`}`)
	case r.Method == "GET" && r.URL.Path == "/language/authoring/analyze-conversations/projects":
		reply(w, 200, `{"value":[{"createdDateTime":"2026-11-01T10:00:00Z","lastModifiedDateTime":"2026-11-20T10:00:00Z","projectKind":"Conversation","projectName":"Travel","language":"en-us","multilingual":false}],"nextLink":null}`)
	case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/language/authoring/analyze-conversations/projects/"):
		// A project the text API does not know is looked up as a
		// conversation project: this resource has none.
		reply(w, 404, `{"error":{"code":"ProjectNotFound","message":"not found"}}`)
	default:
		f.t.Errorf("fake: unexpected %s %s", r.Method, r.URL.Path)
		reply(w, 404, `{"error":{"code":"NotFound","message":"no route"}}`)
	}
}

func reply(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func TestProjectList(t *testing.T) {
	f := newFakeLanguage(t)
	code, out, errOut := runCLI(t, f.env(), "project", "list")
	if code != exitOK || !strings.Contains(out, "Tickets") || !strings.Contains(out, "CustomSingleLabelClassification") || !strings.Contains(out, "2026-11-21 10:00:00Z") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	// The conversations API's projects are listed too, with their kind.
	if !regexp.MustCompile(`(?m)^Travel +Conversation +en-us`).MatchString(out) {
		t.Fatalf("the CLU project is not listed with its kind:\n%s", out)
	}
	code, out, _ = runCLI(t, f.env(), "project", "list", "--json")
	var ps []map[string]any
	if code != exitOK || json.Unmarshal([]byte(out), &ps) != nil || len(ps) != 2 || ps[0]["projectName"] != "Tickets" ||
		ps[1]["projectName"] != "Travel" || ps[1]["projectKind"] != "Conversation" {
		t.Fatalf("exit %d, json %q", code, out)
	}
}

func TestProjectFlagsOverrideEnv(t *testing.T) {
	f := newFakeLanguage(t)
	env := map[string]string{"LANGSYNC_ENDPOINT": "https://wrong.invalid", "LANGSYNC_KEY": "wrong"}
	code, out, errOut := runCLI(t, env, "project", "list", "--endpoint", f.srv.URL, "--key", cliKey, "--api-version", "2022-05-01")
	if code != exitOK || !strings.Contains(out, "Tickets") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
}

func TestProjectShow(t *testing.T) {
	f := newFakeLanguage(t)
	code, out, errOut := runCLI(t, f.env(), "project", "show", "Tickets")
	for _, want := range []string{"Project:", "Tickets", "Models (1)", "m1", "Deployments (1)", "production"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// The deployment shows the model label, matched by modelId.
	if code != exitOK || !strings.Contains(out, "production  m1") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, f.env(), "project", "show", "Tickets", "--json")
	var v struct {
		Project     map[string]any   `json:"project"`
		Models      []map[string]any `json:"models"`
		Deployments []map[string]any `json:"deployments"`
	}
	if code != exitOK || json.Unmarshal([]byte(out), &v) != nil || v.Project["projectName"] != "Tickets" || len(v.Models) != 1 || len(v.Deployments) != 1 {
		t.Fatalf("exit %d, json %q", code, out)
	}
}

func TestProjectExportImportRoundTrip(t *testing.T) {
	f := newFakeLanguage(t)
	file := filepath.Join(t.TempDir(), "tickets.json")
	code, out, errOut := runCLI(t, f.env(), "project", "export", "Tickets", "-o", file)
	if code != exitOK || !strings.Contains(out, "exported Tickets to "+file) {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	// The progress line: kind, status, elapsed.
	if !strings.Contains(errOut, "export running") || !strings.Contains(errOut, "export succeeded") {
		t.Fatalf("progress %q", errOut)
	}
	got, err := os.ReadFile(file)
	if err != nil || string(got) != ticketsExport {
		t.Fatalf("export file %q, %v", got, err)
	}
	code, out, errOut = runCLI(t, f.env(), "project", "import", "Tickets", file)
	if code != exitOK || !strings.Contains(out, "imported") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if string(f.imported) != ticketsExport {
		t.Fatalf("import sent %s, want the export verbatim", f.imported)
	}
	// To stdout without -o.
	code, out, _ = runCLI(t, f.env(), "project", "export", "Tickets")
	if code != exitOK || out != ticketsExport {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
}

func TestProjectTrainAndDeploy(t *testing.T) {
	f := newFakeLanguage(t)
	code, out, errOut := runCLI(t, f.env(), "project", "train", "Tickets", "--model", "m1", "--split", "70")
	if code != exitOK || !strings.Contains(out, "trained model m1 of Tickets") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "train running 40%") || !strings.Contains(errOut, "train succeeded 100%") {
		t.Fatalf("progress %q", errOut)
	}
	var tb map[string]any
	json.Unmarshal(f.trainBody, &tb)
	ev, _ := tb["evaluationOptions"].(map[string]any)
	if tb["modelLabel"] != "m1" || tb["trainingConfigVersion"] != "latest" || ev["trainingSplitPercentage"] != 70.0 || ev["testingSplitPercentage"] != 30.0 {
		t.Fatalf("train body %s", f.trainBody)
	}
	code, out, errOut = runCLI(t, f.env(), "project", "deploy", "Tickets", "production", "--model", "m1", "--json")
	var st map[string]any
	if code != exitOK || json.Unmarshal([]byte(out), &st) != nil || st["status"] != "succeeded" {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if f.deployed != `{"trainedModelLabel":"m1"}` {
		t.Fatalf("deploy body %s", f.deployed)
	}
}

func TestProjectDeleteAndNoWait(t *testing.T) {
	f := newFakeLanguage(t)
	code, out, errOut := runCLI(t, f.env(), "project", "train", "Tickets", "--model", "m2", "--no-wait")
	var job map[string]any
	if code != exitOK || json.Unmarshal([]byte(out), &job) != nil || job["kind"] != "train" || !strings.Contains(fmt.Sprint(job["location"]), "/train/jobs/train1") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if f.polls["train"] != 0 {
		t.Fatal("--no-wait polled")
	}
	code, out, errOut = runCLI(t, f.env(), "project", "delete", "Tickets")
	if code != exitOK || !strings.Contains(out, "deleted Tickets") || !f.deleted {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
}

func TestProjectExitCodes(t *testing.T) {
	f := newFakeLanguage(t)
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		want    int
		stderrs []string
	}{
		{"NoSubcommand", f.env(), []string{"project"}, exitUsage, []string{"which subcommand"}},
		{"UnknownSub", f.env(), []string{"project", "frob"}, exitUsage, []string{"unknown subcommand"}},
		{"NoEndpoint", map[string]string{"LANGSYNC_KEY": cliKey}, []string{"project", "list"}, exitUsage, []string{"no endpoint", "Try:"}},
		{"NoKey", map[string]string{"LANGSYNC_ENDPOINT": f.srv.URL}, []string{"project", "list"}, exitUsage, []string{"no key"}},
		{"BadEndpoint", map[string]string{"LANGSYNC_ENDPOINT": "ftp://x", "LANGSYNC_KEY": "k"}, []string{"project", "list"}, exitUsage, []string{"not an http(s) URL"}},
		{"MissingArg", f.env(), []string{"project", "show"}, exitUsage, []string{"want 1 argument"}},
		{"BadName", f.env(), []string{"project", "show", "../etc"}, exitUsage, []string{"invalid name"}},
		{"ReservedName", f.env(), []string{"project", "delete", "global"}, exitUsage, []string{"reserved"}},
		{"TrainNeedsModel", f.env(), []string{"project", "train", "Tickets"}, exitUsage, []string{"--model"}},
		{"BadSplit", f.env(), []string{"project", "train", "Tickets", "--model", "m", "--split", "100"}, exitUsage, []string{"--split"}},
		{"BadAPIVersion", f.env(), []string{"project", "list", "--api-version", "newest"}, exitUsage, []string{"not a version"}},
		{"WrongKey", map[string]string{"LANGSYNC_ENDPOINT": f.srv.URL, "LANGSYNC_KEY": "wrong-key"}, []string{"project", "list"}, exitFailed, []string{"401", "Try: check that --key"}},
		{"NotFound", f.env(), []string{"project", "show", "Nope"}, exitFailed, []string{"ProjectNotFound", "Try:"}},
		{"ImportMissingFile", f.env(), []string{"project", "import", "Tickets", "/nonexistent.json"}, exitFailed, []string{"reading the export"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.env, tt.args...)
			if code != tt.want {
				t.Fatalf("exit %d, want %d\nstdout %s\nstderr %s", code, tt.want, out, errOut)
			}
			for _, s := range tt.stderrs {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr %q lacks %q", errOut, s)
				}
			}
			if strings.Contains(out+errOut, cliKey) || strings.Contains(out+errOut, "wrong-key") {
				t.Fatalf("output shows a key:\n%s\n%s", out, errOut)
			}
		})
	}
}

func TestProjectFailedJob(t *testing.T) {
	f := newFakeLanguage(t)
	f.failJob = "import"
	file := filepath.Join(t.TempDir(), "e.json")
	os.WriteFile(file, []byte(ticketsExport), 0o600)
	code, _, errOut := runCLI(t, f.env(), "project", "import", "Tickets", file)
	if code != exitFailed || !strings.Contains(errOut, "ended failed") || !strings.Contains(errOut, "Document a.txt not found") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if !strings.Contains(errOut, "import failed") {
		t.Fatalf("progress lacks the failed status: %q", errOut)
	}
}

func TestProjectSubcommandHelp(t *testing.T) {
	for _, sub := range manual["project"].Subs {
		code, out, _ := runCLI(t, nil, "project", sub, "--help")
		if code != exitOK || !strings.Contains(out, "Usage: langsync project "+sub) || !strings.Contains(out, "-endpoint") {
			t.Errorf("%s --help: exit %d, %q", sub, code, out)
		}
	}
}

// TestProjectAgainstEmulator drives the whole hand-run cycle over HTTP
// against the Language emulator: import, train, deploy, show, export,
// re-import of the export, delete.
func TestProjectAgainstEmulator(t *testing.T) {
	r := emulatortest.Start(t, nil)
	p := emulatortest.SingleLabelProject("Tickets", "tickets", 5)
	r.WriteDocs(p.Container, p.Docs)
	env := map[string]string{"LANGSYNC_ENDPOINT": r.URL, "LANGSYNC_KEY": r.Key}
	dir := t.TempDir()
	in := filepath.Join(dir, "in.json")
	b, _ := json.Marshal(p.Export)
	os.WriteFile(in, b, 0o600)
	out := filepath.Join(dir, "out.json")
	steps := [][]string{
		{"project", "import", "Tickets", in},
		{"project", "train", "Tickets", "--model", "m1"},
		{"project", "deploy", "Tickets", "production", "--model", "m1"},
		{"project", "export", "Tickets", "--model", "m1", "-o", out},
		{"project", "import", "Tickets", out},
		{"project", "show", "Tickets"},
	}
	for _, args := range steps {
		code, stdout, stderr := runCLI(t, env, args...)
		if code != exitOK {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, stdout, stderr)
		}
		if strings.Contains(stdout+stderr, r.Key) {
			t.Fatalf("%v: output shows the key", args)
		}
		if args[1] == "show" && (!strings.Contains(stdout, "production  m1") || !strings.Contains(stdout, "Models (1)")) {
			t.Fatalf("show:\n%s", stdout)
		}
	}
	exported, err := os.ReadFile(out)
	if err != nil || !strings.Contains(string(exported), `"projectName":"Tickets"`) {
		t.Fatalf("export %s, %v", exported, err)
	}
	code, _, stderr := runCLI(t, env, "project", "delete", "Tickets")
	if code != exitOK {
		t.Fatalf("delete: exit %d %s", code, stderr)
	}
	code, _, stderr = runCLI(t, env, "project", "show", "Tickets")
	if code != exitFailed || !strings.Contains(stderr, "404") {
		t.Fatalf("show after delete: exit %d %s", code, stderr)
	}
}

// TestProjectListConversationsAgainstEmulator: list shows the text and the
// conversation projects of one resource over the wire, each with its kind.
func TestProjectListConversationsAgainstEmulator(t *testing.T) {
	r := emulatortest.Start(t, nil)
	r.Load(emulatortest.SingleLabelProject("Tickets", "tickets", 3))
	for _, p := range sample.Conversations() {
		r.LoadConversation(p.Name, p.JSON)
	}
	env := map[string]string{"LANGSYNC_ENDPOINT": r.URL, "LANGSYNC_KEY": r.Key}
	code, out, errOut := runCLI(t, env, "project", "list")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{`(?m)^Tickets +CustomSingleLabelClassification `, `(?m)^Travel +Conversation `, `(?m)^TravelRouter +Orchestration `} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("list lacks %s:\n%s", want, out)
		}
	}
	code, out, _ = runCLI(t, env, "project", "list", "--json")
	var ps []struct{ ProjectName, ProjectKind string }
	if code != exitOK || json.Unmarshal([]byte(out), &ps) != nil {
		t.Fatalf("exit %d, json %q", code, out)
	}
	got := map[string]string{}
	for _, p := range ps {
		got[p.ProjectName] = p.ProjectKind
	}
	if len(got) != 3 || got["Travel"] != "Conversation" || got["TravelRouter"] != "Orchestration" || got["Tickets"] != "CustomSingleLabelClassification" {
		t.Fatalf("--json lists %v", got)
	}
}
