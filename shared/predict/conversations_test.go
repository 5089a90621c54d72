package predict

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/sample"
)

// convExampleFile is one official runtime example.
type convExampleFile struct {
	Parameters struct {
		Body json.RawMessage `json:"body"`
	} `json:"parameters"`
	Responses map[string]struct {
		Body json.RawMessage `json:"body"`
	} `json:"responses"`
}

func loadConvExample(t *testing.T, name string) convExampleFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "conversations", name))
	if err != nil {
		t.Fatal(err)
	}
	var ex convExampleFile
	if err := json.Unmarshal(b, &ex); err != nil {
		t.Fatal(err)
	}
	return ex
}

// TestConversationsReplayExamples: a server answers with each official
// runtime example; the client's request has the example's shape and the
// answer decodes into the documented top intent, intents and entities.
func TestConversationsReplayExamples(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("testdata/conversations/*.json")
	if len(files) != 2 {
		t.Fatalf("%d runtime examples, want 2", len(files))
	}
	for _, tt := range []struct {
		file   string
		kind   langsync.ProjectKind
		text   string
		labels []string
		check  func(t *testing.T, d Document)
	}{
		{"2022-05-01_SuccessfulAnalyzeConversations.json", langsync.Conversation, "play In the air tonight from Phil Collins",
			[]string{"PlayMusic", "Media.Artist"}, func(t *testing.T, d Document) {
				if len(d.Intents) != 3 || d.Intents[0].Category != "PlayMusic" || d.Entities[0].Offset != 29 || d.Entities[0].Length != 12 || d.Entities[0].Text != "Phil Collins" {
					t.Errorf("document = %+v", d)
				}
			}},
		{"2023-04-01_SuccessfulAnalyzeConversationsArbitration.json", langsync.Orchestration, "trains from London",
			[]string{"Rail", "Timetable"}, func(t *testing.T, d Document) {
				if len(d.Intents) != 3 || d.Intents[0].Category != "Rail" || d.Intents[2].Category != "None" || d.Routed == nil ||
					d.Routed.TargetKind != "Conversation" || d.Routed.Intents[1].ConfidenceScore != 0.000314623 {
					t.Errorf("document = %+v, routed %+v", d, d.Routed)
				}
			}},
	} {
		t.Run(tt.file, func(t *testing.T) {
			ex := loadConvExample(t, tt.file)
			var got []byte
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != "/language/:analyze-conversations" || r.URL.Query().Get("api-version") != DefaultAPIVersion {
					http.Error(w, "wrong request "+r.Method+" "+r.URL.String(), 400)
					return
				}
				got = readAll(r)
				w.Header().Set("Content-Type", "application/json")
				w.Write(ex.Responses["200"].Body)
			}))
			defer srv.Close()
			c, err := New([]Endpoint{{Name: "primary", URL: srv.URL, Key: langsync.Secret("0123456789abcdef")}}, &Options{Clock: newFakeClock()})
			if err != nil {
				t.Fatal(err)
			}
			res, err := c.Analyze(context.Background(), Request{Kind: tt.kind, Project: "P", Deployment: "production", Texts: []string{tt.text}})
			if err != nil {
				t.Fatal(err)
			}
			if keys(t, got) != keys(t, ex.Parameters.Body) {
				t.Errorf("request members %s, the example's %s", keys(t, got), keys(t, ex.Parameters.Body))
			}
			d := res.Documents[0]
			if !reflect.DeepEqual(d.Labels(), tt.labels) || d.Text != tt.text {
				t.Errorf("labels %v, want %v", d.Labels(), tt.labels)
			}
			tt.check(t, d)
		})
	}
}

func readAll(r *http.Request) []byte {
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := r.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return []byte(b.String())
		}
	}
}

// keys lists the top-level and second-level members of a JSON object, to
// compare a request with the example's without its optional extras.
func keys(t *testing.T, b []byte) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not a JSON object: %s", b)
	}
	var out []string
	for k, v := range m {
		out = append(out, k)
		var sub map[string]json.RawMessage
		if json.Unmarshal(v, &sub) == nil {
			for s := range sub {
				if s == "conversationItem" || s == "projectName" || s == "deploymentName" || s == "stringIndexType" {
					out = append(out, k+"."+s)
				}
			}
		}
	}
	sortStrings(out)
	return strings.Join(out, ",")
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// startConvRegion runs an emulator with the Travel and TravelRouter samples
// deployed as production (travel false: neither).
func startConvRegion(tb testing.TB, name string, travel bool) *emulatortest.Resource {
	tb.Helper()
	r := emulatortest.Start(tb, &emulator.Options{Name: name})
	if travel {
		for _, p := range sample.Conversations() {
			r.LoadConversation(p.Name, p.JSON)
			r.TrainAndDeployConversation(p.Name, "v1", "production")
		}
	}
	return r
}

// TestConversationsFailOverAgainstEmulators: the Travel samples answer
// their probes on the primary, on the secondary when the primary is down,
// and a secondary without the project says it was never replicated.
func TestConversationsFailOverAgainstEmulators(t *testing.T) {
	t.Parallel()
	primary := startConvRegion(t, "primary", true)
	secondary := startConvRegion(t, "secondary", true)
	empty := startConvRegion(t, "empty", false)
	newClient := func(second *emulatortest.Resource) *Client {
		c, err := New([]Endpoint{
			{Name: "primary", URL: primary.URL, Key: langsync.Secret(primary.Key)},
			{Name: "secondary", URL: second.URL, Key: langsync.Secret(second.Key)},
		}, &Options{Clock: newFakeClock(), Rand: func() float64 { return 0.5 }})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := newClient(secondary)
	ctx := context.Background()
	check := func(t *testing.T, wantEndpoint string) {
		t.Helper()
		for _, p := range sample.Conversations() {
			res, err := c.Analyze(ctx, Request{Kind: p.Kind, Project: p.Name, Deployment: "production", Texts: p.ProbeTexts()})
			if err != nil {
				t.Fatalf("%s: %v", p.Name, err)
			}
			if res.Endpoint != wantEndpoint {
				t.Fatalf("%s served by %s, want %s", p.Name, res.Endpoint, wantEndpoint)
			}
			for i, pr := range p.Probes {
				if got := res.Documents[i].Labels(); !reflect.DeepEqual(got, pr.Want) {
					t.Errorf("%s probe %q: labels %v, want %v", p.Name, pr.Text, got, pr.Want)
				}
			}
		}
	}
	check(t, "primary")
	if err := primary.Server.SetFaults(emulator.Faults{Down: true}); err != nil {
		t.Fatal(err)
	}
	for range 6 {
		check(t, "secondary")
	}
	if s := c.State(); s.Active != "secondary" || s.Failovers != 1 {
		t.Fatalf("state = %+v", s)
	}

	c = newClient(empty)
	_, err := c.Analyze(ctx, Request{Kind: langsync.Conversation, Project: "Travel", Deployment: "production", Texts: []string{"book a flight"}})
	var nr *NotReplicatedError
	if !errors.As(err, &nr) || nr.Endpoint != "secondary" || nr.Project != "Travel" {
		t.Fatalf("err = %v, want not replicated to the secondary (the empty region)", err)
	}
}
