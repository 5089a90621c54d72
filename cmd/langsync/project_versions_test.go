package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
	"github.com/langsync/langsync/shared/sample"
)

// TestProjectListConversationsAPIVersion: `langsync project list` speaks
// to conversation projects at --conversations-api-version (or
// $LANGSYNC_CONVERSATIONS_API_VERSION, default 2023-04-01) and to text
// projects at --api-version, as the emulator's request log shows; a
// version the resource does not serve fails naming the flag, and a value
// that is no GA version is a usage error.
func TestProjectListConversationsAPIVersion(t *testing.T) {
	for _, tt := range []struct {
		name     string
		serves   []string
		args     []string
		env      string
		code     int
		want     string
		wantConv string
	}{
		{"default", []string{"2023-04-01"}, nil, "", exitOK, "Travel", "2023-04-01"},
		{"default on a resource serving both", nil, nil, "", exitOK, "Travel", "2023-04-01"},
		{"flag", []string{"2025-11-01"}, []string{"--conversations-api-version", "2025-11-01"}, "", exitOK, "Travel", "2025-11-01"},
		{"env", []string{"2025-11-01"}, nil, "2025-11-01", exitOK, "Travel", "2025-11-01"},
		{"refused", []string{"2023-04-01"}, []string{"--conversations-api-version", "2025-11-01"}, "", exitFailed,
			"set --conversations-api-version to a version it serves (2023-04-01, the default, or 2025-11-01)", "2025-11-01"},
		{"refused from env", []string{"2023-04-01"}, nil, "2025-11-01", exitFailed,
			"set LANGSYNC_CONVERSATIONS_API_VERSION (or --conversations-api-version) to a version it serves", "2025-11-01"},
		{"not a GA version", nil, []string{"--conversations-api-version", "2024-11-15-preview"}, "", exitUsage,
			`--conversations-api-version "2024-11-15-preview": want 2023-04-01 (the default, served by every region) or 2025-11-01 (the newer GA version)`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := emulatortest.Start(t, &emulator.Options{ConversationsAPIVersions: tt.serves})
			v := emulatortest.APIVersion
			if tt.serves != nil {
				v = tt.serves[0]
			}
			travel := sample.Travel()
			if st := r.Wait(r.Start202(http.MethodPost, "/language/authoring/analyze-conversations/projects/Travel/:import?api-version="+v, travel.JSON), 0); st["status"] != "succeeded" {
				t.Fatalf("import: %v", st)
			}
			env := map[string]string{"LANGSYNC_ENDPOINT": r.URL, "LANGSYNC_KEY": r.Key, "LANGSYNC_CONVERSATIONS_API_VERSION": tt.env}
			r.Server.ResetRequests()
			code, out, errOut := runCLI(t, env, append([]string{"project", "list"}, tt.args...)...)
			if code != tt.code || !strings.Contains(out+errOut, tt.want) {
				t.Fatalf("exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", code, tt.code, tt.want, out, errOut)
			}
			var got []string
			for _, q := range r.Server.Requests() {
				got = append(got, fmt.Sprintf("%s %s", strings.TrimPrefix(q.Path, "/language/authoring/"), q.APIVersion))
			}
			var want []string
			if tt.wantConv != "" {
				want = []string{"analyze-text/projects 2023-04-01", "analyze-conversations/projects " + tt.wantConv}
			}
			if strings.Join(got, "; ") != strings.Join(want, "; ") {
				t.Errorf("requests %q, want %q", got, want)
			}
		})
	}
}

// TestClassifyReadsKindAtConfiguredVersion: classify reads a CLU
// project's kind at the resource's conversationsApiVersion; the region
// serves only 2025-11-01, so a read at the default would fail and the
// prediction would be made as the wrong kind.
func TestClassifyReadsKindAtConfiguredVersion(t *testing.T) {
	const v = "2025-11-01"
	r := emulatortest.Start(t, &emulator.Options{Name: "primary", ConversationsAPIVersions: []string{v}})
	base := "/language/authoring/analyze-conversations/projects/Travel"
	for _, step := range []struct {
		method, path string
		body         any
	}{
		{http.MethodPost, base + "/:import?api-version=" + v, sample.Travel().JSON},
		{http.MethodPost, base + "/:train?api-version=" + v, map[string]any{"modelLabel": "v1", "trainingMode": "standard"}},
		{http.MethodPut, base + "/deployments/production?api-version=" + v, map[string]any{"trainedModelLabel": "v1"}},
	} {
		if st := r.Wait(r.Start202(step.method, step.path, step.body), 0); st["status"] != "succeeded" {
			t.Fatalf("%s %s: %v", step.method, step.path, st)
		}
	}
	cfg := filepath.Join(t.TempDir(), "langsync.yaml")
	body := `resources:
  primary: { endpoint: "` + r.URL + `", key: "${PRIMARY_KEY}", conversationsApiVersion: ` + v + ` }
  secondary: { endpoint: "http://127.0.0.1:1", key: unused }
projects:
  - { name: Travel, source: primary, targets: [secondary], deployments: [production] }
store: ` + t.TempDir() + `
`
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	r.Server.ResetRequests()
	code, stdout, stderr := runCLI(t, map[string]string{"PRIMARY_KEY": r.Key}, "classify", "--config", cfg, "--project", "Travel", "cancel my booking QX7781")
	if code != exitOK || !strings.Contains(stdout, "CancelBooking (") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	found := false
	for _, q := range r.Server.Requests() {
		if q.Path == base {
			found = found || q.APIVersion == v && q.Status == http.StatusOK
		}
	}
	if !found {
		t.Errorf("no GET of the project at %s: %+v", v, r.Server.Requests())
	}
}

// TestEmulatorConversationsAPIVersionsFlag: `emulator language
// --conversations-api-versions` limits the versions served; a version the
// emulator does not know is a usage error naming the ones it does.
func TestEmulatorConversationsAPIVersionsFlag(t *testing.T) {
	for _, tt := range []struct {
		value   string
		want    []string
		wantErr string
	}{
		{"", nil, ""},
		{"2023-04-01", []string{"2023-04-01"}, ""},
		{"2023-04-01, 2025-11-01", []string{"2023-04-01", "2025-11-01"}, ""},
		{"2025-11-15-preview", nil, `--conversations-api-versions: "2025-11-15-preview" is not a conversations api-version the emulator serves (2022-05-01, 2023-04-01, 2025-11-01)`},
	} {
		env := &Env{Stdout: &strings.Builder{}, Stderr: &strings.Builder{}, Getenv: func(string) string { return "" }}
		_, opts, err := parseLanguageEmulatorFlags(env, []string{"--key", "k", "--conversations-api-versions", tt.value})
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: err = %v, want %q", tt.value, err, tt.wantErr)
			}
			continue
		}
		if err != nil || strings.Join(opts.ConversationsAPIVersions, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%q: versions %q, err %v; want %q", tt.value, opts.ConversationsAPIVersions, err, tt.want)
		}
	}
}
