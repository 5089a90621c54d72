package emulator_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
)

// TestDeleteProjectForgetsHistory: a deleted project takes its jobs,
// models and deployments with it, so that a project re-imported under the
// same name starts empty, as on the service. Every kind of project job is
// created first; afterwards none of them answers or is listed, while the
// deletion job stays readable.
func TestDeleteProjectForgetsHistory(t *testing.T) {
	r := emulatortest.Start(t, nil)
	p := emulatortest.SingleLabelProject("P", "docs", 4)
	r.Load(p)
	r.TrainAndDeploy("P", "m1", "production")
	base := projects + "/P"
	jobs := map[string]string{} // kind -> status location
	start := func(kind, method, path string, body any) {
		t.Helper()
		loc := r.Start202(method, base+path, body)
		if st := r.Wait(loc, time.Second); st["status"] != "succeeded" {
			t.Fatalf("%s: %v", kind, st)
		}
		jobs[kind] = loc
	}
	start(emulator.KindTrain, "POST", "/:train"+v23, map[string]any{"modelLabel": "m2", "trainingConfigVersion": "latest"})
	start(emulator.KindDeploy, "PUT", "/deployments/staging"+v23, map[string]any{"trainedModelLabel": "m2"})
	start(emulator.KindSwap, "POST", "/deployments/:swap"+v23, map[string]any{"firstDeploymentName": "production", "secondDeploymentName": "staging"})
	start(emulator.KindExport, "POST", "/:export"+v23+"&stringIndexType=Utf16CodeUnit", nil)
	start(emulator.KindLoadSnapshot, "POST", "/models/m1/:load-snapshot"+v23, nil)
	start(emulator.KindDeleteDeployment, "DELETE", "/deployments/staging"+v23, nil)
	for _, info := range r.Server.Jobs("P", emulator.KindImport) {
		jobs[emulator.KindImport] = r.URL + base + "/import/jobs/" + info.ID + v23
	}
	exportResult := getJSON(t, r, jobs[emulator.KindExport])["resultUrl"].(string)

	del := r.Start202("DELETE", base+v23, nil)
	if st := r.Wait(del, time.Second); st["status"] != "succeeded" {
		t.Fatalf("delete: %v", st)
	}
	r.Load(p) // the same name again

	for _, list := range []string{"/train/jobs", "/models", "/deployments"} {
		if v := getJSON(t, r, base+list+v23)["value"].([]any); len(v) != 0 {
			t.Errorf("GET %s after delete and re-import: %v, want none", list, v)
		}
	}
	for kind, loc := range jobs {
		if kind == emulator.KindImport {
			continue // its path is the new import's too; checked by id below
		}
		code, _, b := r.Do("GET", loc, nil)
		if c, _, _ := errorOf(t, b); code != 404 || c != "OperationNotFound" {
			t.Errorf("%s job of the deleted project: %d %s, want 404 OperationNotFound", kind, code, b)
		}
	}
	if code, _, b := r.Do("GET", exportResult, nil); code != 404 {
		t.Errorf("export result of the deleted project: %d %s, want 404", code, b)
	}
	var kinds []string
	for _, info := range r.Server.Jobs("P", "") {
		kinds = append(kinds, info.Kind)
		if info.Kind == emulator.KindImport && strings.Contains(jobs[emulator.KindImport], info.ID) {
			t.Errorf("the first import job %s is still listed", info.ID)
		}
	}
	if !slices.Equal(kinds, []string{emulator.KindDeleteProject, emulator.KindImport}) {
		t.Errorf("jobs of P after delete and re-import: %v, want the deletion and the new import", kinds)
	}
	if st := getJSON(t, r, del); st["status"] != "succeeded" {
		t.Errorf("deletion job: %v", st)
	}
}

// TestDeleteProjectStopsRunningJobs: a job still running on a project when
// its deletion ends never completes: it does not bring a model into a
// project re-created under the same name. A training of the re-created
// project does.
func TestDeleteProjectStopsRunningJobs(t *testing.T) {
	tests := []struct {
		name       string
		trainAfter bool // train the re-created project instead
		models     int
	}{
		{"TrainingBeforeDeletion", false, 0},
		{"TrainingOfTheNewProject", true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := emulatortest.Start(t, &emulator.Options{JobDurations: map[string]time.Duration{emulator.KindTrain: time.Hour, emulator.KindDeleteProject: time.Minute}})
			p := emulatortest.SingleLabelProject("P", "docs", 4)
			r.Load(p)
			train := func() {
				t.Helper()
				r.Start202("POST", projects+"/P/:train"+v23, map[string]any{"modelLabel": "m1", "trainingConfigVersion": "latest"})
			}
			if !tt.trainAfter {
				train()
			}
			del := r.Start202("DELETE", projects+"/P"+v23, nil)
			r.Advance(2 * time.Minute)
			if st := getJSON(t, r, del); st["status"] != "succeeded" {
				t.Fatalf("delete: %v", st)
			}
			r.Load(p)
			if tt.trainAfter {
				train()
			}
			r.Advance(2 * time.Hour)
			if v := getJSON(t, r, projects+"/P/models"+v23)["value"].([]any); len(v) != tt.models {
				t.Fatalf("models %v, want %d", v, tt.models)
			}
		})
	}
}
