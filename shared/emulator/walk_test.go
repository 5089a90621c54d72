package emulator_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/emulator/emulatortest"
)

const (
	v23      = "?api-version=2023-04-01"
	projects = "/language/authoring/analyze-text/projects"
)

// decode unmarshals a JSON body or fails the test.
func decode(t testing.TB, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	return m
}

// exportJSON exports a project (optionally a model's snapshot) and returns
// the result body.
func exportJSON(t *testing.T, r *emulatortest.Resource, project, label string) []byte {
	t.Helper()
	q := v23 + "&stringIndexType=Utf16CodeUnit"
	if label != "" {
		q += "&trainedModelLabel=" + label
	}
	loc := r.Start202("POST", projects+"/"+project+"/:export"+q, nil)
	st := r.Wait(loc, time.Second)
	if st["status"] != "succeeded" {
		t.Fatalf("export: %v", st)
	}
	resultURL, _ := st["resultUrl"].(string)
	if !strings.HasPrefix(resultURL, r.URL+"/language/") {
		t.Fatalf("resultUrl %q is not an absolute URL on %s", resultURL, r.URL)
	}
	code, _, body := r.Do("GET", resultURL, nil)
	if code != 200 {
		t.Fatalf("GET resultUrl: %d %s", code, body)
	}
	return body
}

// predict runs a runtime classification job and returns id -> top class.
func predict(t *testing.T, r *emulatortest.Resource, project, deployment string, texts []string) map[string]string {
	t.Helper()
	var docs []any
	for i, tx := range texts {
		docs = append(docs, map[string]any{"id": fmt.Sprint(i + 1), "language": "en-us", "text": tx})
	}
	body := map[string]any{
		"displayName":   "probe",
		"analysisInput": map[string]any{"documents": docs},
		"tasks": []any{map[string]any{"kind": "CustomSingleLabelClassification", "taskName": "t1",
			"parameters": map[string]any{"projectName": project, "deploymentName": deployment}}},
	}
	loc := r.Start202("POST", "/language/analyze-text/jobs"+v23, body)
	st := r.Wait(loc, time.Second)
	if st["status"] != "succeeded" {
		t.Fatalf("analyze job: %v", st)
	}
	items := st["tasks"].(map[string]any)["items"].([]any)
	item := items[0].(map[string]any)
	if item["kind"] != "CustomSingleLabelClassificationLROResults" || item["lastUpdateDateTime"] == nil {
		t.Fatalf("task item shape: %v", item)
	}
	out := map[string]string{}
	for _, d := range item["results"].(map[string]any)["documents"].([]any) {
		doc := d.(map[string]any)
		classes := doc["class"].([]any)
		if len(classes) == 0 {
			out[doc["id"].(string)] = ""
			continue
		}
		out[doc["id"].(string)] = classes[0].(map[string]any)["category"].(string)
	}
	return out
}

// canonical re-encodes JSON with sorted keys and no whitespace.
func canonical(t *testing.T, b []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("canonical: %v", err)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

func TestWalkTwoRegions(t *testing.T) {
	a := emulatortest.Start(t, nil)
	b := emulatortest.Start(t, nil)
	p := emulatortest.SingleLabelProject("Tickets", "docs", 20)

	a.Load(p)
	a.TrainAndDeploy("Tickets", "model1", "production")
	probes := []string{"I was charged twice on my invoice", "The website is down again", "I cannot login, reset my password please", "refund my payment"}
	gotA := predict(t, a, "Tickets", "production", probes)
	want := map[string]string{"1": "Billing", "2": "Outage", "3": "Account", "4": "Billing"}
	if !reflect.DeepEqual(gotA, want) {
		t.Fatalf("A predicted %v, want %v", gotA, want)
	}

	exportA := exportJSON(t, a, "Tickets", "")
	// B's storage holds the same files (the fail-over guide's setup).
	b.WriteDocs(p.Container, p.Docs)
	loc := b.Start202("POST", projects+"/Tickets/:import"+v23, exportA)
	if st := b.Wait(loc, time.Second); st["status"] != "succeeded" {
		t.Fatalf("import into B: %v", st)
	}
	b.TrainAndDeploy("Tickets", "model1", "production")
	gotB := predict(t, b, "Tickets", "production", probes)
	if !reflect.DeepEqual(gotA, gotB) {
		t.Fatalf("A predicted %v, B predicted %v", gotA, gotB)
	}
	exportB := exportJSON(t, b, "Tickets", "")
	if canonical(t, exportA) != canonical(t, exportB) {
		t.Fatalf("B's export differs from A's:\nA %s\nB %s", exportA, exportB)
	}
	if !bytes.Contains(exportA, []byte(`"projectKind":"CustomSingleLabelClassification"`)) {
		t.Fatalf("export lacks the PascalCase kind: %s", exportA)
	}

	// Both sides agree on the evaluation, computed on the same Test split.
	_, _, sa := a.Do("GET", projects+"/Tickets/models/model1/evaluation/summary-result"+v23, nil)
	_, _, sb := b.Do("GET", projects+"/Tickets/models/model1/evaluation/summary-result"+v23, nil)
	if canonical(t, sa) != canonical(t, sb) {
		t.Fatalf("evaluation differs:\nA %s\nB %s", sa, sb)
	}
	ev := decode(t, sa)["customSingleLabelClassificationEvaluation"].(map[string]any)
	if f1 := ev["microF1"].(float64); f1 < 0.8 {
		t.Fatalf("microF1 = %v on an easy dataset, want >= 0.8 (summary %s)", f1, sa)
	}
	if n := b.Server.CountRequests("POST", "/:train"); n != 1 {
		t.Fatalf("B saw %d training POSTs, want 1", n)
	}
}
