package emulator_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
)

func configVersions(t *testing.T, r *emulatortest.Resource, kind string) map[string]string {
	t.Helper()
	code, _, b := r.Do("GET", projects+"/global/training-config-versions"+v23+"&projectKind="+kind, nil)
	if code != 200 {
		t.Fatalf("list versions: %d %s", code, b)
	}
	var page struct {
		Value []struct {
			TrainingConfigVersion string `json:"trainingConfigVersion"`
			ModelExpirationDate   string `json:"modelExpirationDate"`
		} `json:"value"`
	}
	if err := json.Unmarshal(b, &page); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, v := range page.Value {
		out[v.TrainingConfigVersion] = v.ModelExpirationDate
	}
	return out
}

// TestTrainingConfigVersionsDefault: several versions per kind, each with
// its own expiry counted from the resource's first start; "latest" is the
// GA one, the GetModel example's preview is accepted, and a model expires
// with its version.
func TestTrainingConfigVersionsDefault(t *testing.T) {
	r := emulatortest.Start(t, nil)
	got := configVersions(t, r, "CustomEntityRecognition")
	want := map[string]string{"2022-05-01": "2027-01-05", "2022-05-15-preview": "2026-07-04", "2023-04-15-preview": "2027-06-29"}
	if len(got) != len(want) {
		t.Fatalf("versions %v, want %v", got, want)
	}
	for v, d := range want {
		if got[v] != d {
			t.Errorf("version %s expires %q, want %q", v, got[v], d)
		}
	}
	r.Load(emulatortest.SingleLabelProject("P", "docs", 5))
	for _, tt := range []struct{ ask, label, version, expires string }{
		{"latest", "m1", "2022-05-01", "2027-01-05"},
		{"2022-05-15-preview", "m2", "2022-05-15-preview", "2026-07-04"},
	} {
		loc := r.Start202("POST", projects+"/P/:train"+v23, map[string]any{"modelLabel": tt.label, "trainingConfigVersion": tt.ask})
		if st := r.Wait(loc, time.Second); st["status"] != "succeeded" {
			t.Fatalf("train %s: %v", tt.ask, st)
		}
		m := getJSON(t, r, projects+"/P/models/"+tt.label+v23)
		if m["modelTrainingConfigVersion"] != tt.version || m["modelExpirationDate"] != tt.expires {
			t.Errorf("train %s: model %v, want version %s expiring %s", tt.ask, m, tt.version, tt.expires)
		}
	}
}

// TestTrainingConfigVersionRefused: an unknown or expired version is a 400
// with the service's InvalidRequest/InvalidParameterValue shape; "latest"
// skips the expired ones.
func TestTrainingConfigVersionRefused(t *testing.T) {
	r := emulatortest.Start(t, &emulator.Options{TrainingConfigVersions: []emulator.TrainingConfigVersion{
		{Version: "2022-05-01", Expires: "-1d"},
		{Version: "2022-05-15-preview", Expires: "2026-03-01"},
		{Version: "2023-01-01", Expires: "+30d", Kinds: []string{"CustomEntityRecognition"}},
	}})
	if got := configVersions(t, r, "CustomSingleLabelClassification"); len(got) != 2 || got["2022-05-01"] != "2026-01-04" {
		t.Fatalf("single-label versions %v", got)
	}
	if got := configVersions(t, r, "CustomEntityRecognition"); got["2023-01-01"] != "2026-02-04" {
		t.Fatalf("entity versions %v", got)
	}
	r.Load(emulatortest.SingleLabelProject("P", "docs", 5))
	for _, tt := range []struct{ version, want string }{
		{"2022-05-01", "expired on 2026-01-04"},
		{"2023-01-01", "not supported"},
		{"2021-01-01", "not supported"},
	} {
		code, _, b := r.Do("POST", projects+"/P/:train"+v23, map[string]any{"modelLabel": "m1", "trainingConfigVersion": tt.version})
		var e struct {
			Error struct {
				Code       string `json:"code"`
				Message    string `json:"message"`
				InnerError struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"innererror"`
			} `json:"error"`
		}
		_ = json.Unmarshal(b, &e)
		if code != 400 || e.Error.Code != "InvalidRequest" || e.Error.InnerError.Code != "InvalidParameterValue" || !strings.Contains(e.Error.InnerError.Message, tt.want) {
			t.Errorf("train %s: %d %s, want 400 mentioning %q", tt.version, code, b, tt.want)
		}
	}
	// No GA version is left: latest falls back to the preview.
	loc := r.Start202("POST", projects+"/P/:train"+v23, map[string]any{"modelLabel": "m1", "trainingConfigVersion": "latest"})
	r.Wait(loc, time.Second)
	if m := getJSON(t, r, projects+"/P/models/m1"+v23); m["modelTrainingConfigVersion"] != "2022-05-15-preview" || m["modelExpirationDate"] != "2026-03-01" {
		t.Fatalf("latest: model %v", m)
	}
	// Once that one expires too, nothing is left.
	r.Advance(60 * 24 * time.Hour)
	if code, _, b := r.Do("POST", projects+"/P/:train"+v23, map[string]any{"modelLabel": "m2", "trainingConfigVersion": "latest"}); code != 400 {
		t.Fatalf("latest with every version expired: %d %s", code, b)
	}
}

func TestParseTrainingConfigVersions(t *testing.T) {
	vs, err := emulator.ParseTrainingConfigVersions("2022-05-01=+365d, CustomEntityRecognition:2022-05-15-preview=2026-01-01")
	if err != nil || len(vs) != 2 || vs[1].Version != "2022-05-15-preview" || vs[1].Kinds[0] != "CustomEntityRecognition" || vs[0].Expires != "+365d" {
		t.Fatalf("%+v %v", vs, err)
	}
	for _, bad := range []string{"2022-05-01", "latest=+1d", "2022-05-01=tomorrow", "Sorting:2022-05-01=+1d", "a=+1d,a=+2d"} {
		if _, err := emulator.ParseTrainingConfigVersions(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if vs, err := emulator.ParseTrainingConfigVersions(""); vs != nil || err != nil {
		t.Errorf("empty: %v %v", vs, err)
	}
}
