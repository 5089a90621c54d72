package emulator_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
)

// TestRuntimePartiallyCompleted: an analyze-text job in which the service
// fails some documents (Faults.DocumentFailureRatio) ends
// partiallyCompleted, with a result for each document that worked and an
// error for each that did not; one in which it fails all of them ends
// failed. Invalid input (an empty text) stays a per-document error of a
// succeeded job.
func TestRuntimePartiallyCompleted(t *testing.T) {
	tests := []struct {
		name   string
		ratio  float64
		docs   int
		tasks  int
		empty  bool // the first document's text is empty
		status string
		// completed and failed tasks
		completed, failed int
	}{
		{"NoFailures", 0, 6, 1, false, "succeeded", 1, 0},
		{"EmptyTextIsNotAFailure", 0, 6, 1, true, "succeeded", 1, 0},
		{"SomeDocumentsFail", 0.5, 20, 1, false, "partiallyCompleted", 1, 0},
		{"SomeDocumentsFailTwoTasks", 0.5, 10, 2, false, "partiallyCompleted", 2, 0},
		{"AllDocumentsFail", 1, 5, 1, false, "failed", 0, 1},
		{"AllDocumentsFailTwoTasks", 1, 5, 2, false, "failed", 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := emulatortest.Start(t, &emulator.Options{JobDurations: map[string]time.Duration{emulator.KindAnalyze: time.Second}})
			r.Load(emulatortest.SingleLabelProject("P", "docs", 4))
			r.TrainAndDeploy("P", "m1", "prod")
			if err := r.Server.SetFaults(emulator.Faults{DocumentFailureRatio: tt.ratio, Seed: 3}); err != nil {
				t.Fatal(err)
			}
			body := analyzeBody(tt.docs, "P", "prod")
			if tt.empty {
				body["analysisInput"].(map[string]any)["documents"].([]any)[0].(map[string]any)["text"] = " "
			}
			task := body["tasks"].([]any)[0]
			for i := 1; i < tt.tasks; i++ {
				body["tasks"] = append(body["tasks"].([]any), task)
			}
			loc := r.Start202("POST", runtimeJobs+v23, body)
			st := r.Wait(loc, time.Second)
			if st["status"] != tt.status {
				t.Fatalf("status %v, want %s: %v", st["status"], tt.status, st)
			}
			tasks := st["tasks"].(map[string]any)
			if tasks["completed"] != float64(tt.completed) || tasks["failed"] != float64(tt.failed) || tasks["inProgress"] != 0.0 || tasks["total"] != float64(tt.tasks) {
				t.Fatalf("task counts %v, want %d completed, %d failed", tasks, tt.completed, tt.failed)
			}
			jobErrs := st["errors"].([]any)
			if (len(jobErrs) > 0) != (tt.status != "succeeded") {
				t.Fatalf("job errors %v for a %s job", jobErrs, tt.status)
			}
			items := tasks["items"].([]any)
			if len(items) != tt.tasks {
				t.Fatalf("%d task items, want %d", len(items), tt.tasks)
			}
			allInjected, allResults := 0, 0
			for _, it := range items {
				res := it.(map[string]any)["results"].(map[string]any)
				docs, errs := res["documents"].([]any), res["errors"].([]any)
				if len(docs)+len(errs) != tt.docs {
					t.Fatalf("%d results and %d errors for %d documents", len(docs), len(errs), tt.docs)
				}
				injected := 0
				for _, e := range errs {
					if fmt.Sprint(e.(map[string]any)["error"].(map[string]any)["code"]) == "InternalServerError" {
						injected++
					}
				}
				allInjected += injected
				allResults += len(docs)
				switch tt.status {
				case "succeeded":
					if injected != 0 {
						t.Fatalf("%d injected failures in a succeeded job", injected)
					}
				case "failed":
					if injected != tt.docs || it.(map[string]any)["status"] != "failed" {
						t.Fatalf("task %v, want every document failed", it)
					}
				}
			}
			if tt.status == "partiallyCompleted" && (allInjected == 0 || allResults == 0) {
				t.Fatalf("%d documents failed and %d worked: not a partial job", allInjected, allResults)
			}
		})
	}
}
