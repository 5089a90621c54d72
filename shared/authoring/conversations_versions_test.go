package authoring

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/sample"
)

// TestUnsupportedAPIVersionShapes: the answers that refuse an api-version
// match ErrUnsupportedAPIVersion; other 400s and other statuses do not.
func TestUnsupportedAPIVersionShapes(t *testing.T) {
	for _, tt := range []struct {
		name string
		e    ResponseError
		want bool
	}{
		{"emulator", ResponseError{StatusCode: 400, Code: "InvalidParameterValue", Message: "Unsupported api-version '2025-11-01'. Supported versions: 2023-04-01."}, true},
		{"code", ResponseError{StatusCode: 400, Code: "UnsupportedApiVersion", Message: "The HTTP resource does not support the API version."}, true},
		{"inner code", ResponseError{StatusCode: 400, Code: "InvalidRequest", Message: "Invalid Request.", InnerError: &InnerError{Code: "InvalidApiVersionParameter", Message: "x"}}, true},
		{"other 400", ResponseError{StatusCode: 400, Code: "InvalidParameterValue", Message: "The training config version \"x\" is not supported."}, false},
		{"404 naming the version", ResponseError{StatusCode: 404, Message: "Unsupported api-version '2025-11-01'."}, false},
	} {
		if got := errors.Is(&tt.e, ErrUnsupportedAPIVersion); got != tt.want {
			t.Errorf("%s: Is(ErrUnsupportedAPIVersion) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestConversationsAPIVersionRefusedNamesSetting: a resource that does not
// serve the configured conversations version answers 400; the error names
// the version and the setting to change; the text API is unaffected.
func TestConversationsAPIVersionRefusedNamesSetting(t *testing.T) {
	r := emulatortest.Start(t, &emulator.Options{ConversationsAPIVersions: []string{APIVersion20230401}})
	ctx := context.Background()
	for _, tt := range []struct {
		setting, want string
	}{
		{"resources.secondary.conversationsApiVersion", "the resource does not serve api-version 2025-11-01 of the conversations authoring API: set resources.secondary.conversationsApiVersion to a version it serves (2023-04-01, the default, or 2025-11-01)"},
		{"", "Unsupported api-version '2025-11-01'"},
	} {
		env := newTestClientKey(t, r.URL, r.Key, func(o *ClientOptions) {
			o.ConversationsAPIVersion, o.ConversationsAPIVersionSetting = APIVersion20251101, tt.setting
		})
		_, err := env.client.Conversations().ListProjects(ctx)
		var re *ResponseError
		if !errors.Is(err, ErrUnsupportedAPIVersion) || !errors.As(err, &re) || re.APIVersion != APIVersion20251101 || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("setting %q: err = %v, want ErrUnsupportedAPIVersion containing %q", tt.setting, err, tt.want)
		}
		if tt.setting == "" && strings.Contains(err.Error(), "set ") {
			t.Errorf("no setting named, yet the error gives one: %v", err)
		}
		if _, err := env.client.ListProjects(ctx); err != nil {
			t.Errorf("text API: %v", err)
		}
	}
}

// TestConversationsExportAcrossAPIVersions: an export taken at one GA
// version (its projectFileVersion is that version, as the emulator and
// Microsoft's export docs stamp it) imports at the other and exports back
// the same project; each request went out at its client's version. (The
// official import examples of both versions carry projectFileVersion
// 2022-05-01: a file older than the API is accepted.)
func TestConversationsExportAcrossAPIVersions(t *testing.T) {
	ctx := context.Background()
	travel := sample.Conversations()[0]
	for _, tt := range []struct{ from, to string }{
		{APIVersion20230401, APIVersion20251101},
		{APIVersion20251101, APIVersion20230401},
	} {
		t.Run(tt.from+"_to_"+tt.to, func(t *testing.T) {
			src := emulatortest.Start(t, &emulator.Options{ConversationsAPIVersions: []string{tt.from}})
			dst := emulatortest.Start(t, &emulator.Options{ConversationsAPIVersions: []string{tt.to}})
			client := func(r *emulatortest.Resource, v string) *Client {
				return newTestClientKey(t, r.URL, r.Key, func(o *ClientOptions) { o.ConversationsAPIVersion = v }).client.ForKind(langsync.Conversation)
			}
			sc, dc := client(src, tt.from), client(dst, tt.to)
			run := func(c *Client) func(langsync.Job, error) *JobState {
				return func(job langsync.Job, err error) *JobState {
					t.Helper()
					if err != nil {
						t.Fatalf("begin %s: %v", job.Kind, err)
					}
					st, err := c.Wait(ctx, job, nil)
					if err != nil {
						t.Fatalf("%s: %v", job.Kind, err)
					}
					return st
				}
			}
			export := func(c *Client) []byte {
				t.Helper()
				st := run(c)(c.BeginExport(ctx, travel.Name, nil))
				rc, err := c.OpenExportResult(ctx, st.ResultURL)
				if err != nil {
					t.Fatal(err)
				}
				defer rc.Close()
				b, err := io.ReadAll(rc)
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			run(sc)(sc.BeginImport(ctx, travel.Name, bytes.NewReader(travel.JSON)))
			exported := export(sc)
			var doc struct {
				ProjectFileVersion string `json:"projectFileVersion"`
			}
			if err := json.Unmarshal(exported, &doc); err != nil || doc.ProjectFileVersion != tt.from {
				t.Fatalf("export at %s: projectFileVersion %q (%v)", tt.from, doc.ProjectFileVersion, err)
			}
			run(dc)(dc.BeginImport(ctx, travel.Name, bytes.NewReader(exported)))
			// Only projectFileVersion may differ: the export's version.
			back := bytes.Replace(export(dc), []byte(`"projectFileVersion":"`+tt.to+`"`), []byte(`"projectFileVersion":"`+tt.from+`"`), 1)
			if !jsonEqual(t, back, exported) {
				t.Errorf("export at %s of the import differs:\n got %s\nwant %s", tt.to, back, exported)
			}
			for _, side := range []struct {
				r    *emulatortest.Resource
				want string
			}{{src, tt.from}, {dst, tt.to}} {
				for _, q := range side.r.Server.Requests() {
					if q.APIVersion != side.want || q.Status >= 400 {
						t.Errorf("%s %s: api-version %q status %d, want %s", q.Method, q.Path, q.APIVersion, q.Status, side.want)
					}
				}
			}
		})
	}
}
