package pipeline

import (
	"strings"
	"testing"

	"github.com/langsync/langsync/shared/langsync"
)

// TestConfiguredKind: projects[].kind, when set, must match the kind
// detected on the source; a mismatch fails the run at inspect, naming both
// kinds and the fix, before anything is exported or written to a target.
// Without kind (or with it in another case) the run replicates as before.
func TestConfiguredKind(t *testing.T) {
	tests := []struct {
		name    string
		kind    string // projects[].kind; "" leaves it out
		wantErr string // "" means the run succeeds
	}{
		{"absent: detected", "", ""},
		{"matching", "CustomSingleLabelClassification", ""},
		{"matching, other case", "customsinglelabelclassification", ""},
		{"conversation configured", "Conversation", "source project primary/Tickets is a CustomSingleLabelClassification project, but the config says kind: Conversation (fix projects[].kind, or remove it"},
		{"multi-label configured", "CustomMultiLabelClassification", "is a CustomSingleLabelClassification project, but the config says kind: CustomMultiLabelClassification"},
		{"orchestration configured", "orchestration", "but the config says kind: Orchestration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			projects := "projects: [{name: Tickets, source: primary, targets: [secondary]}]"
			if tt.kind != "" {
				projects = "projects: [{name: Tickets, source: primary, targets: [secondary], kind: " + tt.kind + "}]"
			}
			w := newWorld(t, projects)
			w.svc["primary"].seed("Tickets", map[string]string{"production": "model1"})
			p := w.pipeline(func(o *Options) { o.Prober = fakeProber{"primary": "Billing", "secondary": "Billing"} })
			r, err := w.drive(p, w.start(p, Request{Project: "Tickets", Trigger: langsync.TriggerCLI}))
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantErr == "" {
				if r.Phase != langsync.RunSucceeded {
					t.Fatalf("run %s: %s", r.Phase, r.Error)
				}
				return
			}
			if r.Phase != langsync.RunFailed || !strings.Contains(r.Error, tt.wantErr) {
				t.Fatalf("run %s, error %q, want it to contain %q", r.Phase, r.Error, tt.wantErr)
			}
			if n := len(w.svc["primary"].Posts()) + len(w.svc["secondary"].Posts()); n != 0 {
				t.Errorf("a mismatched kind still started jobs: primary %v secondary %v", w.svc["primary"].Posts(), w.svc["secondary"].Posts())
			}
			w.backups.mu.Lock()
			created := w.backups.created
			w.backups.mu.Unlock()
			if created != 0 {
				t.Errorf("a mismatched kind still wrote %d backups", created)
			}
		})
	}
}
