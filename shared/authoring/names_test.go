package authoring

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/langsync/langsync/shared/langsync"
)

func TestValidateNames(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		project bool // also run the project rule
		ok      bool
	}{
		{"Simple", "Tickets", true, true},
		{"AllAllowed", "a-b_c.d-09", true, true},
		{"Max", strings.Repeat("x", 50), true, true},
		{"TooLong", strings.Repeat("x", 51), true, false},
		{"Empty", "", true, false},
		{"Space", "my project", true, false},
		{"Slash", "a/b", true, false},
		{"DotDot", "..", true, false},
		{"Dot", ".", true, false},
		{"Traversal", "../global", true, false},
		{"Query", "a?b", true, false},
		{"Percent", "a%2Fb", true, false},
		{"Colon", ":export", true, false},
		{"Unicode", "café", true, false},
		{"Global", "global", true, false},
		{"GlobalCase", "GLOBAL", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateProjectName(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidateProjectName(%q) = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidName) {
				t.Fatalf("err %v is not ErrInvalidName", err)
			}
			if tt.in == "global" || tt.in == "GLOBAL" {
				if ValidateDeploymentName(tt.in) != nil || ValidateModelLabel(tt.in) != nil {
					t.Fatalf("%q is only reserved for projects", tt.in)
				}
				return
			}
			if (ValidateDeploymentName(tt.in) == nil) != tt.ok || (ValidateModelLabel(tt.in) == nil) != tt.ok {
				t.Fatalf("deployment/model rules disagree for %q", tt.in)
			}
		})
	}
}

// TestNamesCheckedBeforeAnyRequest: a bad name never reaches the wire.
func TestNamesCheckedBeforeAnyRequest(t *testing.T) {
	rec, url := scripted(t, func(n int, w http.ResponseWriter, r *http.Request) {})
	c := newTestClient(t, url, nil).client
	ctx := t.Context()
	errs := []error{}
	_, err := c.GetProject(ctx, "../x")
	errs = append(errs, err)
	_, err = c.BeginDeploy(ctx, "P", "a/b", "m")
	errs = append(errs, err)
	_, err = c.BeginDeploy(ctx, "P", "prod", "m?x")
	errs = append(errs, err)
	_, err = c.BeginTrain(ctx, "global", TrainOptions{ModelLabel: "m"})
	errs = append(errs, err)
	_, err = c.BeginCancelTraining(ctx, "P", "../../x")
	errs = append(errs, err)
	_, err = c.GetModel(ctx, "P", "")
	errs = append(errs, err)
	_, err = c.BeginSwap(ctx, "P", "a", "a")
	errs = append(errs, err)
	_, err = c.BeginImport(ctx, "P", strings.NewReader(`{"metadata":{"projectName":"Q"}}`))
	errs = append(errs, err)
	_, err = c.BeginImport(ctx, "P", strings.NewReader(`not json`))
	errs = append(errs, err)
	_, err = c.BeginTrain(ctx, "P", TrainOptions{ModelLabel: "m", EvaluationOptions: &EvaluationOptions{TrainingSplitPercentage: 70, TestingSplitPercentage: 20}})
	errs = append(errs, err)
	for i, err := range errs {
		if err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
	if rec.count() != 0 {
		t.Fatalf("%d requests sent for invalid input", rec.count())
	}
}

func TestNewClientRejectsBadInput(t *testing.T) {
	for _, tt := range []struct{ endpoint, key, version, want string }{
		{"", "k", "", "not an http(s) URL"},
		{"ftp://x", "k", "", "not an http(s) URL"},
		{"https://x?y=1", "k", "", "must not carry a query"},
		{"http://example.com", "k", "", "plain http"},
		{"https://x", "", "", "no key"},
		{"https://x", "k", "latest", "not a version"},
	} {
		_, err := NewKeyClient(tt.endpoint, langsync.Secret(tt.key), &ClientOptions{APIVersion: tt.version})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewKeyClient(%q, version %q) = %v, want %q", tt.endpoint, tt.version, err, tt.want)
		}
	}
	c, err := NewKeyClient("https://x.cognitiveservices.azure.com/language/", "k", &ClientOptions{APIVersion: APIVersion20220501})
	if err != nil || c.Endpoint() != "https://x.cognitiveservices.azure.com" || c.APIVersion() != "2022-05-01" {
		t.Fatalf("client %v, err %v", c, err)
	}
	if _, err := c.BeginExport(t.Context(), "P", &ExportOptions{TrainedModelLabel: "m"}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("export by label on 2022-05-01: %v, want ErrUnsupported", err)
	}
}

func TestExportedProjectName(t *testing.T) {
	for _, tt := range []struct{ in, want, err string }{
		{`{"projectFileVersion":"2022-05-01","metadata":{"projectName":"Tickets","language":"en"},"assets":{}}`, "Tickets", ""},
		{`{"assets":{"documents":[{"location":"a.txt","x":[1,{"y":[]}]}]},"metadata":{"projectName":"A"}}`, "A", ""},
		{`{"assets":{}}`, "", "no metadata"},
		{`{"metadata":{"language":"en"}}`, "", "no projectName"},
		{`[1,2]`, "", "not an exported project"},
		{`{"metadata":`, "", "not an exported project"},
		{``, "", "not an exported project"},
	} {
		got, err := exportedProjectName(strings.NewReader(tt.in))
		if got != tt.want || (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("exportedProjectName(%s) = %q, %v; want %q, %q", tt.in, got, err, tt.want, tt.err)
		}
	}
}
