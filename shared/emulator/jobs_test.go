package emulator_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
)

// getJSON GETs path and decodes a 200 answer.
func getJSON(t *testing.T, r *emulatortest.Resource, path string) map[string]any {
	t.Helper()
	code, _, b := r.Do("GET", path, nil)
	if code != 200 {
		t.Fatalf("GET %s: %d %s", path, code, b)
	}
	return decode(t, b)
}

func at(d time.Duration) string { return emulatortest.Epoch.Add(d).Format(time.RFC3339) }

// TestTimestampsMove: PATCH and import bump lastModifiedDateTime, training
// sets lastTrainedDateTime, deployment sets lastDeployedDateTime.
func TestTimestampsMove(t *testing.T) {
	r := emulatortest.Start(t, nil)
	create := map[string]any{"projectName": "P", "projectKind": "customSingleLabelClassification", "storageInputContainerName": "docs", "language": "en"}
	code, _, b := r.Do("PATCH", projects+"/P"+v23, create)
	md := decode(t, b)
	if code != 201 || md["createdDateTime"] != at(0) || md["lastModifiedDateTime"] != at(0) || md["projectKind"] != "CustomSingleLabelClassification" {
		t.Fatalf("create: %d %s", code, b)
	}
	if _, ok := md["lastTrainedDateTime"]; ok {
		t.Fatal("a new project has lastTrainedDateTime")
	}
	r.Advance(time.Minute)
	code, _, b = r.Do("PATCH", projects+"/P"+v23, map[string]any{"description": "d"})
	if md = decode(t, b); code != 200 || md["lastModifiedDateTime"] != at(time.Minute) || md["createdDateTime"] != at(0) || md["description"] != "d" {
		t.Fatalf("update: %d %s", code, b)
	}
	r.Advance(time.Minute)
	p := emulatortest.SingleLabelProject("P", "docs", 5)
	r.Load(p)
	if md = getJSON(t, r, projects+"/P"+v23); md["lastModifiedDateTime"] != at(2*time.Minute) || md["createdDateTime"] != at(0) {
		t.Fatalf("after import: %v", md)
	}
	r.Advance(time.Minute)
	r.TrainAndDeploy("P", "m1", "prod")
	md = getJSON(t, r, projects+"/P"+v23)
	if md["lastTrainedDateTime"] != at(3*time.Minute) || md["lastDeployedDateTime"] != at(3*time.Minute) || md["lastModifiedDateTime"] != at(2*time.Minute) {
		t.Fatalf("after train+deploy: %v", md)
	}
	m := getJSON(t, r, projects+"/P/models/m1"+v23)
	d := getJSON(t, r, projects+"/P/deployments/prod"+v23)
	if d["modelId"] != m["modelId"] || m["modelExpirationDate"] != "2027-01-05" || d["deploymentExpirationDate"] != "2028-01-05" ||
		d["lastTrainedDateTime"] != "2026-01-05T09:03:00.0000000Z" {
		t.Fatalf("model %v\ndeployment %v", m, d)
	}
}

// TestTrainingProgress: notStarted -> running with percentComplete rising ->
// succeeded, driven by the fake clock.
func TestTrainingProgress(t *testing.T) {
	r := emulatortest.Start(t, &emulator.Options{JobDurations: map[string]time.Duration{emulator.KindTrain: 100 * time.Second}})
	r.Load(emulatortest.SingleLabelProject("P", "docs", 5))
	loc := r.Start202("POST", projects+"/P/:train"+v23, map[string]any{"modelLabel": "m1", "trainingConfigVersion": "latest"})
	var trail []string
	last := -1
	for i := 0; i <= 11; i++ {
		st := getJSON(t, r, loc)
		res := st["result"].(map[string]any)
		ts := res["trainingStatus"].(map[string]any)
		es := res["evaluationStatus"].(map[string]any)
		pct := int(ts["percentComplete"].(float64)) + int(es["percentComplete"].(float64))
		if pct < last {
			t.Fatalf("progress went back from %d to %d", last, pct)
		}
		last = pct
		trail = append(trail, fmt.Sprintf("%s/%s:%d", st["status"], ts["status"], pct))
		if res["trainingConfigVersion"] != "2022-05-01" || res["modelLabel"] != "m1" {
			t.Fatalf("result %v", res)
		}
		r.Advance(10 * time.Second)
	}
	got := strings.Join(trail, " ")
	for _, want := range []string{"notStarted/notStarted:0", "running/running:", "running/succeeded:", "succeeded/succeeded:200"} {
		if !strings.Contains(got, want) {
			t.Fatalf("trail %q lacks %q", got, want)
		}
	}
}

// TestCancelTraining: the job goes through cancelling to cancelled and
// no model appears.
func TestCancelTraining(t *testing.T) {
	r := emulatortest.Start(t, &emulator.Options{JobDurations: map[string]time.Duration{emulator.KindTrain: time.Minute, emulator.KindCancelTrain: 5 * time.Second}})
	r.Load(emulatortest.SingleLabelProject("P", "docs", 5))
	loc := r.Start202("POST", projects+"/P/:train"+v23, map[string]any{"modelLabel": "m1", "trainingConfigVersion": "latest"})
	id := loc[strings.LastIndex(loc, "/")+1 : strings.Index(loc, "?")]
	r.Advance(10 * time.Second)
	cancelLoc := r.Start202("POST", projects+"/P/train/jobs/"+id+"/:cancel"+v23, nil)
	if strings.Contains(cancelLoc, id) || !strings.Contains(cancelLoc, "/P/train/jobs/") {
		t.Fatalf("cancel operation-location %q should be a new job under train/jobs", cancelLoc)
	}
	if st := getJSON(t, r, loc); st["status"] != "cancelling" {
		t.Fatalf("status %v, want cancelling", st["status"])
	}
	r.Advance(5 * time.Second)
	if st := getJSON(t, r, cancelLoc); st["status"] != "succeeded" {
		t.Fatalf("cancel job %v", st)
	}
	if st := getJSON(t, r, loc); st["status"] != "cancelled" {
		t.Fatalf("training job %v, want cancelled", st)
	}
	r.Advance(time.Hour)
	if list := getJSON(t, r, projects+"/P/models"+v23)["value"].([]any); len(list) != 0 {
		t.Fatalf("a cancelled training made models %v", list)
	}
	if code, _, _ := r.Do("POST", projects+"/P/train/jobs/"+id+"/:cancel"+v23, nil); code != 409 {
		t.Fatalf("cancelling an ended job: %d, want 409", code)
	}
	// The project is free for training again.
	r.Start202("POST", projects+"/P/:train"+v23, map[string]any{"modelLabel": "m1", "trainingConfigVersion": "latest"})
}

// TestJobsExpire: job states vanish 7 days after creation.
func TestJobsExpire(t *testing.T) {
	r := emulatortest.Start(t, nil)
	r.Load(emulatortest.SingleLabelProject("P", "docs", 5))
	loc := r.Start202("POST", projects+"/P/:train"+v23, map[string]any{"modelLabel": "m1", "trainingConfigVersion": "latest"})
	st := getJSON(t, r, loc)
	if st["expirationDateTime"] != at(7*24*time.Hour) {
		t.Fatalf("expiration %v", st["expirationDateTime"])
	}
	r.Advance(7*24*time.Hour - time.Second)
	getJSON(t, r, loc)
	r.Advance(time.Second)
	code, _, b := r.Do("GET", loc, nil)
	if c, _, _ := errorOf(t, b); code != 404 || c != "OperationNotFound" {
		t.Fatalf("expired job: %d %s", code, b)
	}
	if v := getJSON(t, r, projects+"/P/train/jobs"+v23)["value"].([]any); len(v) != 0 {
		t.Fatalf("expired jobs listed: %v", v)
	}
	if v := getJSON(t, r, projects+"/P/models"+v23)["value"].([]any); len(v) != 1 {
		t.Fatalf("the model went with its job: %v", v)
	}
}

// TestPaging: top, skip, maxpagesize and an absolute nextLink.
func TestPaging(t *testing.T) {
	r := emulatortest.Start(t, nil)
	for i := 0; i < 5; i++ {
		r.Do("PATCH", fmt.Sprintf("%s/P%d%s", projects, i, v23), map[string]any{"projectKind": "CustomSingleLabelClassification", "storageInputContainerName": "docs", "language": "en"})
	}
	var names []string
	link := r.URL + projects + v23 + "&maxpagesize=2"
	pages := 0
	for link != "" {
		page := getJSON(t, r, link)
		pages++
		for _, v := range page["value"].([]any) {
			names = append(names, v.(map[string]any)["projectName"].(string))
		}
		next, _ := page["nextLink"].(string)
		if next != "" && !strings.HasPrefix(next, r.URL+projects+"?api-version=2023-04-01&") {
			t.Fatalf("nextLink %q is not absolute with api-version first", next)
		}
		link = next
	}
	if strings.Join(names, ",") != "P0,P1,P2,P3,P4" || pages != 3 {
		t.Fatalf("pages %d, names %v", pages, names)
	}
	page := getJSON(t, r, projects+v23+"&top=3&skip=1&maxpagesize=2")
	if len(page["value"].([]any)) != 2 || !strings.Contains(page["nextLink"].(string), "skip=3") || !strings.Contains(page["nextLink"].(string), "top=1") {
		t.Fatalf("top/skip page %v", page)
	}
	last := getJSON(t, r, page["nextLink"].(string))
	if v := last["value"].([]any); len(v) != 1 || v[0].(map[string]any)["projectName"] != "P3" || last["nextLink"] != nil {
		t.Fatalf("last page %v", last)
	}
}

// TestMissingDocumentFailsTraining is the DR pitfall: the secondary's
// storage lacks a file, and training fails naming it.
func TestMissingDocumentFailsTraining(t *testing.T) {
	r := emulatortest.Start(t, nil)
	r.Load(emulatortest.SingleLabelProject("P", "docs", 5))
	r.RemoveDoc("docs", "outage-002.txt")
	st := r.Wait(r.Start202("POST", projects+"/P/:train"+v23, map[string]any{"modelLabel": "m1", "trainingConfigVersion": "latest"}), time.Second)
	if st["status"] != "failed" || !strings.Contains(string(mustJSON(t, st["errors"])), `outage-002.txt`) {
		t.Fatalf("job %v, want failed naming outage-002.txt", st)
	}
	if v := getJSON(t, r, projects+"/P/models"+v23)["value"].([]any); len(v) != 0 {
		t.Fatalf("a failed training made a model: %v", v)
	}
}

// TestExportModelSnapshot: export with trainedModelLabel gives the data the
// model was trained on; load-snapshot restores it into the working copy.
func TestExportModelSnapshot(t *testing.T) {
	r := emulatortest.Start(t, nil)
	p := emulatortest.SingleLabelProject("P", "docs", 5)
	r.Load(p)
	r.TrainAndDeploy("P", "m1", "prod")
	trained := exportJSON(t, r, "P", "")
	smaller := emulatortest.SingleLabelProject("P", "docs", 2)
	r.Load(smaller)
	current := exportJSON(t, r, "P", "")
	snap := exportJSON(t, r, "P", "m1")
	if canonical(t, snap) != canonical(t, trained) {
		t.Fatalf("the m1 export is not what m1 was trained on:\n%s\n%s", snap, trained)
	}
	if canonical(t, current) == canonical(t, trained) {
		t.Fatal("the working copy did not change")
	}
	r.Wait(r.Start202("POST", projects+"/P/models/m1/:load-snapshot"+v23, nil), time.Second)
	if got := exportJSON(t, r, "P", ""); canonical(t, got) != canonical(t, trained) {
		t.Fatalf("after load-snapshot the working copy is %s", got)
	}
}

// TestDeploymentsLifecycle: swap exchanges models, delete removes, delete
// model is a synchronous 204 and the deployment keeps serving.
func TestDeploymentsLifecycle(t *testing.T) {
	r := emulatortest.Start(t, nil)
	r.Load(emulatortest.SingleLabelProject("P", "docs", 5))
	r.TrainAndDeploy("P", "m1", "prod")
	r.Advance(time.Hour)
	r.TrainAndDeploy("P", "m2", "staging")
	m1 := getJSON(t, r, projects+"/P/models/m1"+v23)["modelId"]
	m2 := getJSON(t, r, projects+"/P/models/m2"+v23)["modelId"]
	r.Wait(r.Start202("POST", projects+"/P/deployments/:swap"+v23, map[string]any{"firstDeploymentName": "prod", "secondDeploymentName": "staging"}), time.Second)
	if got := getJSON(t, r, projects+"/P/deployments/prod"+v23)["modelId"]; got != m2 {
		t.Fatalf("prod serves %v after swap, want %v", got, m2)
	}
	if got := getJSON(t, r, projects+"/P/deployments/staging"+v23)["modelId"]; got != m1 {
		t.Fatalf("staging serves %v after swap, want %v", got, m1)
	}
	if code, _, b := r.Do("DELETE", projects+"/P/models/m2"+v23, nil); code != 204 || len(b) != 0 {
		t.Fatalf("delete model: %d %s", code, b)
	}
	if got := predict(t, r, "P", "prod", []string{"refund my payment"}); got["1"] != "Billing" {
		t.Fatalf("prod after its model was deleted: %v", got)
	}
	r.Wait(r.Start202("DELETE", projects+"/P/deployments/staging"+v23, nil), time.Second)
	if code, _, _ := r.Do("GET", projects+"/P/deployments/staging"+v23, nil); code != 404 {
		t.Fatalf("deleted deployment still answers %d", code)
	}
	if v := getJSON(t, r, projects+"/P/deployments"+v23)["value"].([]any); len(v) != 1 {
		t.Fatalf("deployments %v", v)
	}
}

// TestVersion20220501: the older GA has empty settings and no hasSnapshot.
func TestVersion20220501(t *testing.T) {
	r := emulatortest.Start(t, nil)
	r.Do("PATCH", projects+"/P"+v23, map[string]any{"projectKind": "CustomSingleLabelClassification", "storageInputContainerName": "docs", "language": "en",
		"settings": map[string]any{"confidenceThreshold": 0.3}})
	r.Load(emulatortest.SingleLabelProject("P", "docs", 5))
	r.TrainAndDeploy("P", "m1", "prod")
	if _, ok := getJSON(t, r, projects+"/P/models/m1?api-version=2022-05-01")["hasSnapshot"]; ok {
		t.Fatal("2022-05-01 model has hasSnapshot")
	}
	loc := r.Start202("POST", projects+"/P/:export?api-version=2022-05-01&stringIndexType=Utf16CodeUnit", nil)
	st := r.Wait(loc, time.Second)
	_, _, b := r.Do("GET", st["resultUrl"].(string), nil)
	var ex map[string]any
	_ = json.Unmarshal(b, &ex)
	if ex["projectFileVersion"] != "2022-05-01" || fmt.Sprint(meta(ex)["settings"]) != "map[]" {
		t.Fatalf("2022-05-01 export %s", b)
	}
}

// TestRestartKeepsState: with a data dir, projects, models and running jobs
// survive a restart; the job finishes on the restarted resource.
func TestRestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	clock := emulator.NewFakeClock(emulatortest.Epoch)
	opts := &emulator.Options{DataDir: dir, Clock: clock, Keys: []string{"k"}, JobDurations: map[string]time.Duration{emulator.KindTrain: time.Minute}}
	a := emulatortest.Start(t, opts)
	a.Load(emulatortest.SingleLabelProject("P", "docs", 5))
	a.TrainAndDeploy("P", "m1", "prod")
	loc := a.Start202("POST", projects+"/P/:train"+v23, map[string]any{"modelLabel": "m2", "trainingConfigVersion": "latest"})
	if err := a.Server.Close(); err != nil {
		t.Fatal(err)
	}
	opts.Documents = emulator.DirDocuments(a.DocsDir)
	b := emulatortest.Start(t, opts)
	loc = strings.Replace(loc, a.URL, b.URL, 1)
	b.Advance(10 * time.Second)
	if st := getJSON(t, b, loc); st["status"] != "running" {
		t.Fatalf("the training job after restart: %v", st)
	}
	b.Advance(50 * time.Second)
	if st := getJSON(t, b, loc); st["status"] != "succeeded" {
		t.Fatalf("the training job did not finish after restart: %v", st)
	}
	if v := getJSON(t, b, projects+"/P/models"+v23)["value"].([]any); len(v) != 2 {
		t.Fatalf("models after restart %v", v)
	}
	if got := predict(t, b, "P", "prod", []string{"the website is down"}); got["1"] != "Outage" {
		t.Fatalf("prediction after restart: %v", got)
	}
}

// TestKindAnyCase: a camelCase projectKind on import is accepted and the
// export says PascalCase.
func TestKindAnyCase(t *testing.T) {
	r := emulatortest.Start(t, nil)
	p := emulatortest.SingleLabelProject("P", "docs", 3)
	meta(p.Export)["projectKind"] = "customSingleLabelClassification"
	p.Export["assets"].(map[string]any)["projectKind"] = "CUSTOMSINGLELABELCLASSIFICATION"
	r.Load(p)
	ex := decode(t, exportJSON(t, r, "P", ""))
	if meta(ex)["projectKind"] != "CustomSingleLabelClassification" || ex["assets"].(map[string]any)["projectKind"] != "CustomSingleLabelClassification" {
		t.Fatalf("export %v", ex)
	}
}

// TestRealClockJobs: with the real clock and short durations, jobs run on
// their own and Wait polls them to the end.
func TestRealClockJobs(t *testing.T) {
	r := emulatortest.Start(t, &emulator.Options{Clock: emulator.RealClock(), JobDurations: map[string]time.Duration{emulator.KindImport: 30 * time.Millisecond, emulator.KindTrain: 60 * time.Millisecond}})
	p := emulatortest.SingleLabelProject("P", "docs", 5)
	r.Load(p)
	loc := r.Start202("POST", projects+"/P/:train"+v23, map[string]any{"modelLabel": "m1", "trainingConfigVersion": "latest"})
	if st := getJSON(t, r, loc); st["status"] == "succeeded" {
		t.Fatalf("a 60ms job finished at once: %v", st)
	}
	if st := r.Wait(loc, 0); st["status"] != "succeeded" {
		t.Fatalf("job %v", st)
	}
}

// TestMinStatusReads: with Options.MinStatusReads a job is seen running
// by that many status reads even when its duration has long passed, then
// ends. Without it the job ends by its duration alone.
func TestMinStatusReads(t *testing.T) {
	for _, tt := range []struct {
		reads       int
		wantRunning int // reads answered running after the duration passed
	}{
		{0, 0},
		{1, 1},
		{3, 3},
	} {
		t.Run(fmt.Sprint(tt.reads), func(t *testing.T) {
			r := emulatortest.Start(t, &emulator.Options{MinStatusReads: tt.reads})
			r.Load(emulatortest.SingleLabelProject("P", "docs", 5))
			loc := r.Start202("POST", projects+"/P/:export"+v23+"&stringIndexType=Utf16CodeUnit", nil)
			r.Advance(time.Hour)
			running := 0
			for range tt.reads + 1 {
				st := getJSON(t, r, strings.TrimPrefix(loc, r.URL))
				if st["status"] == "succeeded" {
					break
				}
				if st["status"] != "running" {
					t.Fatalf("status %v", st)
				}
				running++
				r.Advance(time.Second)
			}
			if running != tt.wantRunning {
				t.Errorf("answered running %d times after the job's duration, want %d", running, tt.wantRunning)
			}
			if st := getJSON(t, r, strings.TrimPrefix(loc, r.URL)); st["status"] != "succeeded" {
				t.Errorf("after %d reads: %v", tt.reads, st)
			}
		})
	}
}
