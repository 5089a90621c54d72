package emulator_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
)

// example reads a spec example from testdata and returns its parameters and
// the body and headers of one response.
func example(t *testing.T, name, status string) (params map[string]any, body any, headers map[string]any) {
	t.Helper()
	return exampleIn(t, "testdata", name, status)
}

// exampleIn is example reading from dir.
func exampleIn(t *testing.T, dir, name, status string) (params map[string]any, body any, headers map[string]any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var ex struct {
		Parameters map[string]any `json:"parameters"`
		Responses  map[string]struct {
			Headers map[string]any `json:"headers"`
			Body    any            `json:"body"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(b, &ex); err != nil {
		t.Fatal(err)
	}
	r, ok := ex.Responses[status]
	if !ok {
		t.Fatalf("%s has no %s response", name, status)
	}
	return ex.Parameters, r.Body, r.Headers
}

// dynamicKeys hold maps keyed by class or entity names: their shape is the
// shape of any one value.
var dynamicKeys = map[string]bool{"confusionMatrix": true, "confusionMatrix/row": true, "classes": true, "entities": true, "intents": true}

// shape reduces a JSON value to its field names and value types.
func shape(v any, key string) any {
	switch x := v.(type) {
	case map[string]any:
		if dynamicKeys[key] {
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if len(keys) == 0 {
				return "{}"
			}
			sub := "*"
			if key == "confusionMatrix" {
				sub = "confusionMatrix/row"
			}
			return map[string]any{"*": shape(x[keys[0]], sub)}
		}
		out := map[string]any{}
		for k, vv := range x {
			out[k] = shape(vv, k)
		}
		return out
	case []any:
		if len(x) == 0 {
			return "[]"
		}
		return []any{shape(x[0], key)}
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case nil:
		return "null"
	}
	return "?"
}

func sameShape(t *testing.T, what string, got []byte, want any) {
	t.Helper()
	var g any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %v in %s", what, err, got)
	}
	if gs, ws := shape(g, ""), shape(want, ""); !reflect.DeepEqual(gs, ws) {
		gj, _ := json.Marshal(gs)
		wj, _ := json.Marshal(ws)
		t.Errorf("%s: shape differs from the spec example\n got  %s\n want %s\n body %s", what, gj, wj, got)
	}
}

var jobIDPattern = `[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}_[0-9]{18}`

// sameLocation checks an operation-location against an example's, with the
// endpoint and job id abstracted.
func sameLocation(t *testing.T, what, got string, exHeaders map[string]any, base string) {
	t.Helper()
	want, _ := exHeaders["operation-location"].(string)
	// The import example's artifact
	// (docs/reference/language-rest.md#gotcha-4-follow-service-urls-verbatim).
	want = strings.Replace(want, "api-version=2022-05-01", "api-version=2023-04-01", 1)
	pat := regexp.QuoteMeta(want)
	pat = strings.Replace(pat, regexp.QuoteMeta("{Endpoint}"), regexp.QuoteMeta(base), 1)
	pat = regexp.MustCompile(regexp.QuoteMeta("4d37982f-fded-4c2c-afe3-15953b5919b6_637858368000000000")+`|[0-9a-f-]{36}_[0-9]{18}`).ReplaceAllString(pat, jobIDPattern)
	if !regexp.MustCompile("^" + pat + "$").MatchString(got) {
		t.Errorf("%s: operation-location %q does not match the example's %q", what, got, want)
	}
}

// TestShapesMatchSpecExamples drives a resource through the LoanAgreements
// story of the spec examples and compares every answer's shape (field names
// and types) and every operation-location with the examples.
func TestShapesMatchSpecExamples(t *testing.T) {
	r := emulatortest.Start(t, &emulator.Options{JobDurations: map[string]time.Duration{emulator.KindTrain: 10 * time.Second}})
	p := emulatortest.NERProject("LoanAgreements", "loanagreements", 20)
	r.WriteDocs(p.Container, p.Docs)
	base := projects + "/LoanAgreements"

	_, _, h := example(t, "2023-04-01_SuccessfulImportProject", "202")
	code, hdr, body := r.Do("POST", base+"/:import"+v23, p.Export)
	if code != 202 || len(body) != 0 {
		t.Fatalf("import: %d %s", code, body)
	}
	sameLocation(t, "import", hdr.Get("operation-location"), h, r.URL)
	_, _, b := r.Do("GET", hdr.Get("operation-location"), nil)
	_, want, _ := example(t, "2023-04-01_SuccessfulGetImportStatus", "200")
	sameShape(t, "import status", b, want)

	// A never-trained project of another kind, listed second.
	code, _, b = r.Do("PATCH", projects+"/MoviesSummary"+v23, map[string]any{"projectName": "MoviesSummary", "language": "en",
		"projectKind": "CustomMultiLabelClassification", "description": "movies", "multilingual": false, "storageInputContainerName": "loanagreements"})
	_, want, _ = example(t, "2023-04-01_SuccessfulCreateProject", "201")
	if code != 201 {
		t.Fatalf("create: %d %s", code, b)
	}
	sameShape(t, "create project (201)", b, want)

	_, _, h = example(t, "2023-04-01_SuccessfulTrainProject", "202")
	code, hdr, body = r.Do("POST", base+"/:train"+v23, map[string]any{"modelLabel": "model1", "trainingConfigVersion": "latest",
		"evaluationOptions": map[string]any{"kind": "percentage", "testingSplitPercentage": 20, "trainingSplitPercentage": 80}})
	if code != 202 {
		t.Fatalf("train: %d %s", code, body)
	}
	trainLoc := hdr.Get("operation-location")
	sameLocation(t, "train", trainLoc, h, r.URL)
	r.Advance(3 * time.Second)
	_, _, b = r.Do("GET", trainLoc, nil)
	_, want, _ = example(t, "2024-11-15-preview_SuccessfulGetTrainStatus", "200")
	sameShape(t, "train status (running)", b, want)
	r.Advance(10 * time.Second)
	_, _, b = r.Do("GET", base+"/train/jobs"+v23, nil)
	_, want, _ = example(t, "2023-04-01_SuccessfulListTrainingJobs", "200")
	sameShape(t, "list training jobs", b, want)

	_, _, b = r.Do("GET", base+"/models"+v23, nil)
	_, want, _ = example(t, "2023-04-01_SuccessfulListModels", "200")
	sameShape(t, "list models", b, want)
	_, _, b = r.Do("GET", base+"/models/model1"+v23, nil)
	_, want, _ = example(t, "2023-04-01_SuccessfulGetModel", "200")
	sameShape(t, "get model", b, want)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if !regexp.MustCompile(`^model1-\d{8}T\d{6}-[0-9a-f]{32}$`).MatchString(m["modelId"].(string)) {
		t.Errorf("modelId %q is not shaped like model1-20220418T034749-<32 hex>", m["modelId"])
	}
	_, _, b = r.Do("GET", base+"/models/model1/evaluation/summary-result"+v23, nil)
	_, want, _ = example(t, "2023-04-01_SuccessfulGetModelEvaluationSummary", "200")
	sameShape(t, "evaluation summary", b, want)
	_, _, b = r.Do("GET", base+"/models/model1/evaluation/result"+v23+"&stringIndexType=Utf16CodeUnit&maxpagesize=1", nil)
	_, want, _ = example(t, "2023-04-01_SuccessfulGetModelEvaluation", "200")
	sameShape(t, "evaluation results", b, want)

	_, _, h = example(t, "2023-04-01_SuccessfulDeployProject", "202")
	for _, d := range []string{"production", "staging"} {
		code, hdr, body = r.Do("PUT", base+"/deployments/"+d+v23, map[string]any{"trainedModelLabel": "model1"})
		if code != 202 {
			t.Fatalf("deploy: %d %s", code, body)
		}
		if d == "production" {
			sameLocation(t, "deploy", hdr.Get("operation-location"), h, r.URL)
		}
		_, _, b = r.Do("GET", hdr.Get("operation-location"), nil)
	}
	_, want, _ = example(t, "2022-05-01_SuccessfulGetDeploymentStatus", "200")
	sameShape(t, "deployment status", b, want)
	_, _, b = r.Do("GET", base+"/deployments"+v23, nil)
	_, want, _ = example(t, "2023-04-01_SuccessfulListDeployments", "200")
	sameShape(t, "list deployments", b, want)

	code, hdr, _ = r.Do("POST", base+"/deployments/:swap"+v23, map[string]any{"firstDeploymentName": "production", "secondDeploymentName": "staging"})
	if code != 202 {
		t.Fatalf("swap: %d", code)
	}
	if !regexp.MustCompile(`/deployments/swap/jobs/` + jobIDPattern + `\?api-version=2023-04-01$`).MatchString(hdr.Get("operation-location")) {
		t.Errorf("swap operation-location %q", hdr.Get("operation-location"))
	}
	_, _, b = r.Do("GET", hdr.Get("operation-location"), nil)
	_, want, _ = example(t, "2023-04-01_SuccessfulGetSwapDeploymentsStatus", "200")
	sameShape(t, "swap status", b, want)

	_, _, h = example(t, "2023-04-01_SuccessfulExportProject", "202")
	code, hdr, _ = r.Do("POST", base+"/:export"+v23+"&stringIndexType=Utf16CodeUnit", nil)
	if code != 202 {
		t.Fatalf("export: %d", code)
	}
	sameLocation(t, "export", hdr.Get("operation-location"), h, r.URL)
	_, _, b = r.Do("GET", hdr.Get("operation-location"), nil)
	_, want, _ = example(t, "2023-04-01_SuccessfulGetExportStatus", "200")
	sameShape(t, "export status", b, want)
	var ex map[string]any
	_ = json.Unmarshal(b, &ex)
	_, _, exported := r.Do("GET", ex["resultUrl"].(string), nil)
	importParams, _, _ := example(t, "2023-04-01_SuccessfulImportProject", "202")
	sameShape(t, "export result vs the import example body", exported, importParams["body"])

	_, _, b = r.Do("GET", projects+v23, nil)
	_, want, _ = example(t, "2023-04-01_SuccessfulListProjects", "200")
	sameShape(t, "list projects", b, want)
	code, _, b = r.Do("PATCH", base+v23, map[string]any{"description": "updated"})
	_, want, _ = example(t, "2023-04-01_SuccessfulCreateProject", "200")
	if code != 200 {
		t.Fatalf("update: %d %s", code, b)
	}
	sameShape(t, "update project (200)", b, want)

	_, _, b = r.Do("GET", projects+"/global/languages"+v23, nil)
	_, want, _ = example(t, "2023-04-01_SuccessfulGetSupportedLanguages", "200")
	sameShape(t, "languages", b, want)
	if !strings.Contains(string(b), `{"languageName":"Chinese (Simplified)","languageCode":"zh-hans"}`) {
		t.Errorf("languages lack zh-hans: %s", b)
	}
	_, _, b = r.Do("GET", projects+"/global/training-config-versions"+v23+"&projectKind=CustomEntityRecognition", nil)
	_, want, _ = example(t, "2023-04-01_SuccessfulGetSupportedTrainingConfigVersions", "200")
	sameShape(t, "training config versions", b, want)

	// Cancel needs a running job.
	_, _, h = example(t, "2023-04-01_SuccessfulCancelTrainingJob", "202")
	code, hdr, _ = r.Do("POST", base+"/:train"+v23, map[string]any{"modelLabel": "model2", "trainingConfigVersion": "latest"})
	if code != 202 {
		t.Fatalf("train 2: %d", code)
	}
	id := hdr.Get("operation-location")
	id = id[strings.LastIndex(id, "/")+1 : strings.Index(id, "?")]
	code, hdr, _ = r.Do("POST", base+"/train/jobs/"+id+"/:cancel"+v23, nil)
	if code != 202 {
		t.Fatalf("cancel: %d", code)
	}
	sameLocation(t, "cancel", hdr.Get("operation-location"), h, r.URL)

	_, _, h = example(t, "2023-04-01_SuccessfulDeleteProject", "202")
	code, hdr, _ = r.Do("DELETE", base+v23, nil)
	if code != 202 {
		t.Fatalf("delete: %d", code)
	}
	sameLocation(t, "delete project", hdr.Get("operation-location"), h, r.URL)
	r.Advance(time.Second)
	_, _, b = r.Do("GET", hdr.Get("operation-location"), nil)
	_, want, _ = example(t, "2023-04-01_SuccessfulGetProjectDeletionStatus", "200")
	sameShape(t, "deletion status", b, want)
	if code, _, b = r.Do("GET", base+v23, nil); code != 404 {
		t.Fatalf("GET a deleted project: %d %s", code, b)
	}
}
