package customhandler_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/langsync/langsync/shared/customhandler"
	"github.com/langsync/langsync/shared/customhandler/customhandlertest"
	"github.com/langsync/langsync/shared/entry/entrytest"
)

// repoRoot walks up from the test's directory to the directory with host.json.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "host.json")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no host.json above the test directory")
		}
		dir = parent
	}
}

// TestRouteTable: every functions/*/function.json has a route, every route
// has a folder, and the binding names, types and queues match what the
// handler reads.
func TestRouteTable(t *testing.T) {
	root := repoRoot(t)
	fns, err := customhandlertest.LoadFunctions(filepath.Join(root, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	routes := map[string]customhandler.Route{}
	for _, r := range customhandler.Routes() {
		routes[r.Function] = r
	}
	nameRE := regexp.MustCompile(`(?i)^[a-z][a-z0-9_\-]{0,127}$`) // host's FunctionNameValidationRegex
	seen := map[string]bool{}
	h, err := customhandler.New(customhandler.Options{
		Runs: &entrytest.Pipeline{}, Starts: &entrytest.Pipeline{}, Status: &entrytest.Pipeline{},
		Wakes: &customhandlertest.Sender{}, Failed: &entrytest.Keeper{},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range fns {
		seen[fn.Name] = true
		t.Run(fn.Name, func(t *testing.T) {
			if !nameRE.MatchString(fn.Name) || fn.Name == "host" {
				t.Fatalf("folder name %q is not a valid function name", fn.Name)
			}
			r, ok := routes[fn.Name]
			if !ok {
				t.Fatalf("functions/%s has no route in customhandler.Routes()", fn.Name)
			}
			trig := fn.Trigger()
			if trig == nil {
				t.Fatalf("functions/%s has no trigger binding", fn.Name)
			}
			if trig.Type != r.Trigger || trig.Name != r.Binding {
				t.Fatalf("trigger %s %q, handler reads %s %q", trig.Type, trig.Name, r.Trigger, r.Binding)
			}
			if got := trig.DataType == "binary"; got != r.Binary {
				t.Fatalf("dataType binary=%v in function.json, handler expects %v", got, r.Binary)
			}
			switch r.Trigger {
			case customhandler.ServiceBusTrigger:
				if trig.QueueName != r.Queue || trig.Connection != "LANGSYNC_SERVICEBUS" {
					t.Fatalf("queue %q connection %q, want %q LANGSYNC_SERVICEBUS", trig.QueueName, trig.Connection, r.Queue)
				}
			case customhandler.TimerTrigger:
				if trig.Schedule != "%LANGSYNC_SCHEDULE%" || trig.RunOnStartup {
					t.Fatalf("schedule %q runOnStartup %v, want %%LANGSYNC_SCHEDULE%% and false", trig.Schedule, trig.RunOnStartup)
				}
			case customhandler.HTTPTrigger:
				if trig.AuthLevel != "function" {
					t.Fatalf("authLevel %q, want function", trig.AuthLevel)
				}
				out := fn.Binding("http", "out")
				if out == nil || out.Name != r.Output {
					t.Fatalf("http output %+v, handler writes Outputs.%s", out, r.Output)
				}
			case customhandler.BlobTrigger:
				if trig.Path != "langsync-state/restore/{name}" {
					t.Fatalf("path %q, want langsync-state/restore/{name}", trig.Path)
				}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/"+fn.Name, bytes.NewReader([]byte(`{"Data":{},"Metadata":{}}`))))
			if rec.Code == http.StatusNotFound || rec.Code == http.StatusMethodNotAllowed {
				t.Fatalf("POST /%s = %d: the handler does not serve it", fn.Name, rec.Code)
			}
		})
	}
	for name := range routes {
		if !seen[name] {
			t.Errorf("route %q has no functions/%s/function.json", name, name)
		}
	}
}

func TestHostJSON(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "host.json"))
	if err != nil {
		t.Fatal(err)
	}
	var hj struct {
		Version       string `json:"version"`
		CustomHandler struct {
			Description struct {
				DefaultExecutablePath string   `json:"defaultExecutablePath"`
				Arguments             []string `json:"arguments"`
			} `json:"description"`
			EnableForwardingHTTPRequest bool `json:"enableForwardingHttpRequest"`
		} `json:"customHandler"`
		Extensions struct {
			ServiceBus struct {
				AutoCompleteMessages bool `json:"autoCompleteMessages"`
				PrefetchCount        int  `json:"prefetchCount"`
			} `json:"serviceBus"`
		} `json:"extensions"`
		FunctionTimeout string `json:"functionTimeout"`
	}
	if err := json.Unmarshal(b, &hj); err != nil {
		t.Fatal(err)
	}
	d := hj.CustomHandler.Description
	switch {
	case hj.Version != "2.0":
		t.Errorf("version %q, want 2.0", hj.Version)
	case d.DefaultExecutablePath != "langsync" || len(d.Arguments) != 1 || d.Arguments[0] != "serve":
		t.Errorf("custom handler %+v, want langsync serve", d)
	case hj.CustomHandler.EnableForwardingHTTPRequest:
		t.Errorf("enableForwardingHttpRequest must stay false: status reads the JSON envelope")
	case !hj.Extensions.ServiceBus.AutoCompleteMessages || hj.Extensions.ServiceBus.PrefetchCount != 0:
		t.Errorf("serviceBus %+v, want autoComplete true and prefetch 0", hj.Extensions.ServiceBus)
	case hj.FunctionTimeout != "00:10:00":
		t.Errorf("functionTimeout %q, want 00:10:00 (the handler's invocation budget is 9m)", hj.FunctionTimeout)
	}
}
