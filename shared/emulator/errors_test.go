package emulator_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
)

// errorOf returns error.code, innererror.code and message of an error body.
func errorOf(t *testing.T, body []byte) (code, inner, msg string) {
	t.Helper()
	e, ok := decode(t, body)["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object in %s", body)
	}
	code, _ = e["code"].(string)
	msg, _ = e["message"].(string)
	if code == "" || msg == "" {
		t.Fatalf("error.code and error.message are required: %s", body)
	}
	if ie, ok := e["innererror"].(map[string]any); ok {
		inner, _ = ie["code"].(string)
		if inner == "" || ie["message"] == "" {
			t.Fatalf("innererror.code and innererror.message are required: %s", body)
		}
	}
	return code, inner, msg
}

// TestErrorAnswers checks each error case of
// docs/reference/language-rest.md#error-body and
// docs/reference/language-rest.md#http-status-mapping: status, the
// {"error":{...}} body, its codes, and the apim-request-id header.
func TestErrorAnswers(t *testing.T) {
	r := emulatortest.Start(t, &emulator.Options{JobDurations: map[string]time.Duration{emulator.KindTrain: time.Minute}})
	r.Load(emulatortest.SingleLabelProject("Tickets", "docs", 4))
	if code, _, b := r.Do("POST", projects+"/Tickets/:train"+v23, map[string]any{"modelLabel": "m1", "trainingConfigVersion": "latest"}); code != 202 {
		t.Fatalf("train: %d %s", code, b)
	}
	long := strings.Repeat("a", 51)
	kindBody := map[string]any{"projectKind": "CustomSingleLabelClassification", "storageInputContainerName": "docs", "language": "en"}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range kindBody {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name, method, path string
		body               any
		key                string // "" = the right key; "-" = none
		status             int
		code, inner        string
	}{
		{"NoKey", "GET", projects + v23, nil, "-", 401, "401", ""},
		{"WrongKey", "GET", projects + v23, nil, "not-the-key", 401, "401", ""},
		{"WrongKeyBeforeBadVersion", "GET", projects + "?api-version=1999-01-01", nil, "not-the-key", 401, "401", ""},
		{"NoAPIVersion", "GET", projects, nil, "", 400, "InvalidRequest", "InvalidParameterValue"},
		{"OtherAPIVersion", "GET", projects + "?api-version=2024-11-15-preview", nil, "", 400, "InvalidRequest", "InvalidParameterValue"},
		{"LegacyAPIVersion", "GET", projects + "?api-version=2021-11-01-preview", nil, "", 400, "InvalidRequest", "InvalidParameterValue"},
		{"UnknownPath", "GET", "/language/authoring/query-knowledgebases/projects" + v23, nil, "", 404, "404", ""},
		{"ProjectNotFound", "GET", projects + "/Nope" + v23, nil, "", 404, "ProjectNotFound", ""},
		{"ModelNotFound", "GET", projects + "/Tickets/models/nope" + v23, nil, "", 404, "NotFound", ""},
		{"DeploymentNotFound", "GET", projects + "/Tickets/deployments/nope" + v23, nil, "", 404, "NotFound", ""},
		{"JobNotFound", "GET", projects + "/Tickets/train/jobs/00000000-0000-4000-8000-000000000000_639031680000000000" + v23, nil, "", 404, "OperationNotFound", ""},
		{"DeletionJobNotFound", "GET", projects + "/global/deletion-jobs/x" + v23, nil, "", 404, "OperationNotFound", ""},
		{"DeployUnknownModel", "PUT", projects + "/Tickets/deployments/prod" + v23, map[string]any{"trainedModelLabel": "nope"}, "", 404, "NotFound", ""},
		{"ExportNoStringIndexType", "POST", projects + "/Tickets/:export" + v23, nil, "", 400, "InvalidRequest", "InvalidParameterValue"},
		{"ExportUnknownModel", "POST", projects + "/Tickets/:export" + v23 + "&stringIndexType=Utf16CodeUnit&trainedModelLabel=nope", nil, "", 404, "NotFound", ""},
		{"ImportNotJSON", "POST", projects + "/Tickets/:import" + v23, "{not json", "", 400, "InvalidRequest", "InvalidRequestBodyFormat"},
		{"ImportEmpty", "POST", projects + "/Tickets/:import" + v23, "", "", 400, "InvalidRequest", "EmptyRequest"},
		{"ImportWrongType", "POST", projects + "/Tickets/:import" + v23, `{"projectFileVersion":5}`, "", 400, "InvalidRequest", "InvalidRequestBodyFormat"},
		{"ImportNoMetadata", "POST", projects + "/Tickets/:import" + v23, map[string]any{"projectFileVersion": "2022-05-01", "stringIndexType": "Utf16CodeUnit"}, "", 400, "InvalidRequest", "InvalidParameterValue"},
		{"CreateMissingKind", "PATCH", projects + "/New" + v23, with("projectKind", nil), "", 400, "InvalidRequest", "InvalidParameterValue"},
		{"CreateBadKind", "PATCH", projects + "/New" + v23, with("projectKind", "CustomSummarization"), "", 400, "InvalidRequest", "InvalidParameterValue"},
		{"CreateBadLanguage", "PATCH", projects + "/New" + v23, with("language", "xx-yy"), "", 400, "InvalidRequest", "UnsupportedLanguageCode"},
		{"CreateMultilingualString", "PATCH", projects + "/New" + v23, with("multilingual", "true"), "", 400, "InvalidRequest", "InvalidRequestBodyFormat"},
		{"CreateBadThreshold", "PATCH", projects + "/New" + v23, with("settings", map[string]any{"confidenceThreshold": 2}), "", 400, "InvalidRequest", "InvalidParameterValue"},
		{"NameWithSpace", "PATCH", projects + "/My%20Project" + v23, kindBody, "", 400, "InvalidRequest", "InvalidParameterValue"},
		{"NameTooLong", "PATCH", projects + "/" + long + v23, kindBody, "", 400, "InvalidRequest", "InvalidParameterValue"},
		{"NameGlobal", "POST", projects + "/global/:import" + v23, map[string]any{}, "", 400, "InvalidRequest", "InvalidParameterValue"},
		{"PatchGlobal", "PATCH", projects + "/global" + v23, kindBody, "", 400, "InvalidRequest", "InvalidParameterValue"},
		{"NameGlobalAnyCase", "PATCH", projects + "/GLOBAL" + v23, kindBody, "", 400, "InvalidRequest", "InvalidParameterValue"},
		{"ChangeKind", "PATCH", projects + "/Tickets" + v23, map[string]any{"projectKind": "CustomEntityRecognition"}, "", 400, "InvalidRequest", "InvalidParameterValue"},
		{"TrainNoLabel", "POST", projects + "/Tickets/:train" + v23, map[string]any{"trainingConfigVersion": "latest"}, "", 400, "InvalidRequest", "InvalidParameterValue"},
		{"TrainBadLabel", "POST", projects + "/Tickets/:train" + v23, map[string]any{"modelLabel": "m 1", "trainingConfigVersion": "latest"}, "", 400, "InvalidRequest", "InvalidParameterValue"},
		{"TrainNoConfig", "POST", projects + "/Tickets/:train" + v23, map[string]any{"modelLabel": "m2"}, "", 400, "InvalidRequest", "InvalidParameterValue"},
		{"TrainSplitNot100", "POST", projects + "/Tickets/:train" + v23, map[string]any{"modelLabel": "m2", "trainingConfigVersion": "latest",
			"evaluationOptions": map[string]any{"kind": "percentage", "trainingSplitPercentage": 70, "testingSplitPercentage": 20}}, "", 400, "InvalidRequest", "InvalidParameterValue"},
		{"TrainBadEvalKind", "POST", projects + "/Tickets/:train" + v23, map[string]any{"modelLabel": "m2", "trainingConfigVersion": "latest",
			"evaluationOptions": map[string]any{"kind": "random"}}, "", 400, "InvalidRequest", "InvalidParameterValue"},
		{"TrainWhileTraining", "POST", projects + "/Tickets/:train" + v23, map[string]any{"modelLabel": "m2", "trainingConfigVersion": "latest"}, "", 409, "Conflict", ""},
		{"SwapMissingName", "POST", projects + "/Tickets/deployments/:swap" + v23, map[string]any{"firstDeploymentName": "a"}, "", 400, "InvalidRequest", "InvalidParameterValue"},
		{"ConfigVersions2022NeedKind", "GET", projects + "/global/training-config-versions?api-version=2022-05-01", nil, "", 400, "InvalidRequest", "InvalidParameterValue"},
		{"LoadSnapshotNotIn2022", "POST", projects + "/Tickets/models/m1/:load-snapshot?api-version=2022-05-01", nil, "", 404, "404", ""},
		{"BadPaging", "GET", projects + v23 + "&top=-1", nil, "", 400, "InvalidRequest", "InvalidParameterValue"},
		{"RuntimeTooManyDocs", "POST", "/language/analyze-text/jobs" + v23, analyzeBody(26, "Tickets", "prod"), "", 400, "InvalidRequest", "InvalidDocumentBatch"},
		{"RuntimeNoDocs", "POST", "/language/analyze-text/jobs" + v23, analyzeBody(0, "Tickets", "prod"), "", 400, "InvalidRequest", "MissingInputDocuments"},
		{"RuntimeNoDeployment", "POST", "/language/analyze-text/jobs" + v23, analyzeBody(1, "Tickets", "prod"), "", 404, "NotFound", ""},
		{"RuntimeNoProject", "POST", "/language/analyze-text/jobs" + v23, analyzeBody(1, "Nope", "prod"), "", 404, "ProjectNotFound", ""},
		{"RuntimeJobNotFound", "GET", "/language/analyze-text/jobs/nope" + v23, nil, "", 404, "NotFound", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, r.URL+tt.path, bodyReader(t, tt.body))
			if err != nil {
				t.Fatal(err)
			}
			switch tt.key {
			case "":
				req.Header.Set("Ocp-Apim-Subscription-Key", r.Key)
			case "-":
			default:
				req.Header.Set("Ocp-Apim-Subscription-Key", tt.key)
			}
			code, hdr, body := send(t, req)
			if code != tt.status {
				t.Fatalf("status %d, want %d; body %s", code, tt.status, body)
			}
			gotCode, gotInner, msg := errorOf(t, body)
			if gotCode != tt.code || gotInner != tt.inner {
				t.Fatalf("codes %q/%q, want %q/%q; body %s", gotCode, gotInner, tt.code, tt.inner, body)
			}
			if hdr.Get("apim-request-id") == "" || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
				t.Fatalf("headers %v lack apim-request-id or a JSON content type", hdr)
			}
			want401 := "Access denied due to invalid subscription key or wrong API endpoint."
			if tt.key == "-" {
				want401 = "Access denied due to missing subscription key."
			}
			if tt.status == 401 && !strings.HasPrefix(msg, want401) {
				t.Fatalf("401 message %q is not the gateway's %q", msg, want401)
			}
			if strings.Contains(string(body), r.Key) {
				t.Fatal("an error body shows the key")
			}
		})
	}
}

func analyzeBody(n int, project, deployment string) map[string]any {
	docs := []any{}
	for i := 0; i < n; i++ {
		docs = append(docs, map[string]any{"id": fmt.Sprint(i), "language": "en", "text": "hello"})
	}
	return map[string]any{"analysisInput": map[string]any{"documents": docs}, "tasks": []any{map[string]any{"kind": "CustomSingleLabelClassification",
		"parameters": map[string]any{"projectName": project, "deploymentName": deployment}}}}
}

// TestImportFailures checks the import failure causes of
// docs/reference/language-rest.md#import-failure-causes (and
// docs/reference/language-rest.md#emulator-behaviour): the request is accepted
// and the job ends failed with an error naming the cause.
func TestImportFailures(t *testing.T) {
	r := emulatortest.Start(t, nil)
	r.WriteDocs("docs", map[string]string{"a.txt": "charged twice"})
	good := func() map[string]any {
		p := emulatortest.SingleLabelProject("P", "docs", 1)
		return p.Export
	}
	tests := []struct {
		name   string
		mutate func(m map[string]any)
		want   string
	}{
		{"ContainerMissing", func(m map[string]any) { meta(m)["storageInputContainerName"] = "nosuchcontainer" }, "nosuchcontainer"},
		{"BadLanguageCode", func(m map[string]any) { meta(m)["language"] = "klingon" }, "klingon"},
		{"LanguageNotString", func(m map[string]any) { meta(m)["language"] = 42 }, "language must be a string"},
		{"MultilingualAsString", func(m map[string]any) { meta(m)["multilingual"] = "true" }, "multilingual must be a boolean"},
		{"KindMismatch", func(m map[string]any) {
			m["assets"].(map[string]any)["projectKind"] = "CustomMultiLabelClassification"
		}, "does not match"},
		{"UnknownClass", func(m map[string]any) {
			m["assets"].(map[string]any)["classes"] = []any{map[string]any{"category": "Other"}}
		}, "not in assets.classes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := good()
			tt.mutate(body)
			loc := r.Start202("POST", projects+"/P"+tt.name+"/:import"+v23, body)
			st := r.Wait(loc, time.Second)
			if st["status"] != "failed" {
				t.Fatalf("status %v, want failed: %v", st["status"], st)
			}
			errs, _ := st["errors"].([]any)
			if len(errs) == 0 || !strings.Contains(fmt.Sprint(errs), tt.want) {
				t.Fatalf("errors %v do not mention %q", errs, tt.want)
			}
			if code, _, _ := r.Do("GET", projects+"/P"+tt.name+v23, nil); code != 404 {
				t.Fatalf("a failed import created the project (GET %d)", code)
			}
		})
	}
}

func meta(m map[string]any) map[string]any { return m["metadata"].(map[string]any) }
