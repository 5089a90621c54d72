package authoring

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/langsync/langsync/shared/langsync"
)

// roundTrip decodes raw into a T and encodes it again.
func roundTrip[T any](raw []byte) ([]byte, error) {
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// TestExamplesRoundTrip decodes every example payload (responses and
// request bodies) into its Go type and checks that encoding it again gives
// the same JSON: nothing the service sent is lost.
func TestExamplesRoundTrip(t *testing.T) {
	typed := map[string]func([]byte) ([]byte, error){
		"2023-04-01_SuccessfulListProjects.json/200":                       roundTrip[page[ProjectMetadata]],
		"2023-04-01_SuccessfulCreateProject.json/200":                      roundTrip[ProjectMetadata],
		"2023-04-01_SuccessfulCreateProject.json/201":                      roundTrip[ProjectMetadata],
		"2023-04-01_SuccessfulCreateProject.json/body":                     roundTrip[ProjectOptions],
		"2023-04-01_SuccessfulGetProjectDeletionStatus.json/200":           roundTrip[JobState],
		"2023-04-01_SuccessfulGetExportStatus.json/200":                    roundTrip[JobState],
		"2022-05-01_SuccessfulGetExportStatus.json/200":                    roundTrip[JobState],
		"2023-04-01_SuccessfulImportProject.json/body":                     roundTrip[ExportedProject],
		"2022-05-01_SuccessfulImportProject_DRAFT-STALE.json/body":         roundTrip[ExportedProject],
		"2023-04-01_SuccessfulGetImportStatus.json/200":                    roundTrip[JobState],
		"2023-04-01_SuccessfulTrainProject.json/body":                      roundTrip[TrainOptions],
		"2024-11-15-preview_SuccessfulGetTrainStatus.json/200":             roundTrip[JobState],
		"2023-04-01_SuccessfulListTrainingJobs.json/200":                   roundTrip[page[JobState]],
		"2023-04-01_SuccessfulListModels.json/200":                         roundTrip[page[TrainedModel]],
		"2023-04-01_SuccessfulGetModel.json/200":                           roundTrip[TrainedModel],
		"2023-04-01_SuccessfulGetModelEvaluationSummary.json/200":          roundTrip[EvaluationSummary],
		"2023-04-01_SuccessfulGetModelEvaluation.json/200":                 roundTrip[page[DocumentEvaluation]],
		"2023-04-01_SuccessfulDeployProject.json/body":                     roundTrip[deployBody],
		"2022-05-01_SuccessfulGetDeploymentStatus.json/200":                roundTrip[JobState],
		"2023-04-01_SuccessfulListDeployments.json/200":                    roundTrip[page[Deployment]],
		"2024-11-15-preview_SuccessfulSwapDeployments.json/body":           roundTrip[swapBody],
		"2023-04-01_SuccessfulGetSwapDeploymentsStatus.json/200":           roundTrip[JobState],
		"2023-04-01_SuccessfulGetSupportedLanguages.json/200":              roundTrip[page[SupportedLanguage]],
		"2023-04-01_SuccessfulGetSupportedTrainingConfigVersions.json/200": roundTrip[page[TrainingConfigVersion]],
	}
	files, _ := filepath.Glob("testdata/*.json")
	covered := 0
	for _, f := range files {
		name := filepath.Base(f)
		ex := loadExample(t, name)
		payloads := map[string]json.RawMessage{}
		if b, ok := ex.Parameters["body"]; ok {
			payloads["body"] = b
		}
		for status, r := range ex.Responses {
			if len(r.Body) > 0 {
				payloads[status] = r.Body
			}
		}
		for which, raw := range payloads {
			key := name + "/" + which
			rt, ok := typed[key]
			if !ok {
				t.Errorf("%s: no Go type mapped for this payload", key)
				continue
			}
			covered++
			t.Run(key, func(t *testing.T) {
				got, err := rt(raw)
				if err != nil {
					t.Fatalf("decode/encode: %v", err)
				}
				if !jsonEqual(t, got, raw) {
					t.Fatalf("round trip changed the JSON:\n got %s\nwant %s", got, raw)
				}
			})
		}
	}
	if covered != len(typed) {
		t.Fatalf("%d payloads covered, %d mapped: a mapped file is missing from testdata", covered, len(typed))
	}
}

// TestExportKeepsUnknownMembers adds members the client does not model at
// every level of an export and checks that rename (decode, change, encode)
// keeps all of them, and their null and zero values.
func TestExportKeepsUnknownMembers(t *testing.T) {
	ex := loadExample(t, "2023-04-01_SuccessfulImportProject.json")
	var doc map[string]any
	if err := json.Unmarshal(ex.Parameters["body"], &doc); err != nil {
		t.Fatal(err)
	}
	doc["futureTopLevel"] = map[string]any{"nested": []any{1.5, "x", nil}}
	meta := doc["metadata"].(map[string]any)
	meta["futureSetting"] = nil
	meta["settings"] = map[string]any{"confidenceThreshold": 0.7, "runGptPredictions": true}
	assets := doc["assets"].(map[string]any)
	assets["entities"].([]any)[0].(map[string]any)["description"] = "a date"
	d0 := assets["documents"].([]any)[0].(map[string]any)
	d0["summaryLocation"] = "01.summary.txt"
	region := d0["entities"].([]any)[0].(map[string]any)
	region["labels"].([]any)[0].(map[string]any)["confidence"] = 0.25
	region["regionOffset"] = 0
	in, _ := json.Marshal(doc)

	var out bytes.Buffer
	if err := RenameExport(bytes.NewReader(in), &out, "LoanAgreementsCopy"); err != nil {
		t.Fatal(err)
	}
	meta["projectName"] = "LoanAgreementsCopy"
	want, _ := json.Marshal(doc)
	if !jsonEqual(t, out.Bytes(), want) {
		t.Fatalf("rename lost or changed members:\n got %s\nwant %s", out.Bytes(), want)
	}
	if !strings.Contains(out.String(), `"futureSetting":null`) {
		t.Fatalf("null member not kept: %s", out.String())
	}
}

func TestRenameExportRejectsBadName(t *testing.T) {
	err := RenameExport(strings.NewReader(`{}`), &bytes.Buffer{}, "../x")
	if err == nil || !strings.Contains(err.Error(), "invalid name") {
		t.Fatalf("err = %v, want invalid name", err)
	}
}

func TestZeroMembersFollowPresence(t *testing.T) {
	// Absent optional members stay absent; present zero ones stay present.
	for _, tt := range []struct{ in, want string }{
		{`{"jobId":"j","createdDateTime":"2022-04-18T15:23:07Z","lastUpdatedDateTime":"2022-04-18T15:23:07Z","status":"running"}`, ``},
		{`{"jobId":"j","createdDateTime":"2022-04-18T15:23:07Z","lastUpdatedDateTime":"2022-04-18T15:23:07Z","status":"running","errors":[],"resultUrl":""}`, ``},
		{`{"jobId":"j","createdDateTime":"2022-04-18T15:23:07Z","lastUpdatedDateTime":"2022-04-18T15:23:07Z","status":"running","warnings":null}`, ``},
	} {
		got, err := roundTrip[JobState]([]byte(tt.in))
		if err != nil {
			t.Fatal(err)
		}
		if !jsonEqual(t, got, []byte(tt.in)) {
			t.Errorf("round trip %s -> %s", tt.in, got)
		}
	}
	// A value built in code omits its zero optional members.
	b, _ := json.Marshal(TrainOptions{ModelLabel: "m", TrainingConfigVersion: "latest"})
	if string(b) != `{"modelLabel":"m","trainingConfigVersion":"latest"}` {
		t.Fatalf("train options = %s", b)
	}
}

func TestErrorCodeAcceptsNumbers(t *testing.T) {
	var eb errorBody
	if err := json.Unmarshal([]byte(`{"error":{"code":401,"message":"denied"}}`), &eb); err != nil {
		t.Fatal(err)
	}
	if eb.Error.Code != "401" {
		t.Fatalf("code = %q", eb.Error.Code)
	}
}

func TestJobStatePercentAndErr(t *testing.T) {
	st := &JobState{Status: langsync.JobFailed, JobID: "j1", Job: langsync.Job{Kind: langsync.JobImport},
		Errors: []ErrorDetail{{Code: "InvalidDocument", Message: "bad doc 07.txt"}}}
	var je *JobError
	if err := st.Err(); err == nil || !asJobError(err, &je) || je.Kind != langsync.JobImport || !strings.Contains(err.Error(), "InvalidDocument: bad doc 07.txt") {
		t.Fatalf("err = %v", st.Err())
	}
	if (&JobState{Status: langsync.JobRunning}).Percent() != -1 {
		t.Fatal("running job without result should have unknown percent")
	}
	if (&JobState{Status: langsync.JobSucceeded}).Percent() != 100 {
		t.Fatal("succeeded job should be 100%")
	}
}

func asJobError(err error, je **JobError) bool {
	e, ok := err.(*JobError)
	*je = e
	return ok
}

// TestTestdataIsTheOfficialExamples: the fixtures are the service's
// official example payloads, kept whole: each is an example document
// (parameters and responses keyed by HTTP status, with a body to decode),
// and every one is used by a test of this package.
func TestTestdataIsTheOfficialExamples(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) < 20 {
		t.Fatalf("only %d fixtures (%v)", len(files), err)
	}
	tests, _ := filepath.Glob("*_test.go")
	var src strings.Builder
	for _, f := range tests {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src.Write(b)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ex struct {
			Parameters map[string]any             `json:"parameters"`
			Responses  map[string]json.RawMessage `json:"responses"`
		}
		if err := json.Unmarshal(b, &ex); err != nil {
			t.Errorf("%s: not an example document: %v", f, err)
			continue
		}
		if len(ex.Parameters) == 0 || len(ex.Responses) == 0 {
			t.Errorf("%s: an official example has parameters and responses", f)
		}
		for code := range ex.Responses {
			if len(code) != 3 || code[0] < '1' || code[0] > '5' {
				t.Errorf("%s: response key %q is not an HTTP status", f, code)
			}
		}
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		if !strings.Contains(src.String(), name) {
			t.Errorf("%s: no test in this package uses it", f)
		}
	}
}
