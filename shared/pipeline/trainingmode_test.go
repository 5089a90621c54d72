package pipeline

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

// TestTrainingModeFollowsTheSource: a conversation model is trained on the
// target in the mode of the source's training job that produced it;
// advanced falls back to standard, with a warning on the step, when the
// target refuses it; without a job to tell (expired), or for a text
// project, no mode is sent (the service default, standard).
func TestTrainingModeFollowsTheSource(t *testing.T) {
	tests := []struct {
		name       string
		kind       langsync.ProjectKind
		jobs       []string // modes of the source's jobs for model1, oldest first; "late:" prefix: started after the model was trained
		noAdvanced bool     // the target refuses advanced
		wantModes  []string // the target's training POSTs
		wantNote   string
	}{
		{"advanced", langsync.Conversation, []string{"advanced"}, false, []string{"advanced"}, ""},
		{"standard", langsync.Conversation, []string{"standard"}, false, []string{"standard"}, ""},
		{"latest job that made the model", langsync.Conversation, []string{"standard", "advanced", "late:standard"}, false, []string{"advanced"}, ""},
		{"job expired", langsync.Orchestration, nil, false, []string{""}, ""},
		{"advanced refused", langsync.Conversation, []string{"advanced"}, true, []string{"advanced", "standard"},
			`warning: trained standard, not advanced as the source model "model1": secondary refused advanced training: 400 InvalidParameterValue`},
		{"text project", langsync.SingleLabelClassification, []string{""}, false, []string{""}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, "projects: [{name: Tickets, source: primary, targets: [secondary]}]")
			src := w.svc["primary"]
			src.seed("Tickets", map[string]string{"production": "model1"})
			src.mu.Lock()
			p := src.projects["Tickets"]
			p.meta.Kind = tt.kind
			trained := p.models["model1"].LastTrained
			for i, mode := range tt.jobs {
				created := trained.Add(-time.Duration(len(tt.jobs)-i) * time.Minute)
				if m, late := strings.CutPrefix(mode, "late:"); late {
					mode, created = m, trained.Add(time.Minute)
				}
				src.seq++
				src.jobs[fmt.Sprintf("https://primary.example/jobs/train/%d", src.seq)] = &fakeJob{kind: langsync.JobTrain, project: "Tickets", label: "model1", mode: mode, created: created, doneAt: created}
			}
			src.mu.Unlock()
			w.svc["secondary"].noAdvanced = tt.noAdvanced
			pl := w.pipeline(func(o *Options) { o.Prober = fakeProber{"primary": "Billing", "secondary": "Billing"} })
			r, err := w.drive(pl, w.start(pl, Request{Project: "Tickets", Trigger: langsync.TriggerCLI}))
			if err != nil {
				t.Fatal(err)
			}
			if r.Phase != langsync.RunSucceeded {
				t.Fatalf("run %s: %s", r.Phase, r.Error)
			}
			if got := w.svc["secondary"].trainedModes; strings.Join(got, ",") != strings.Join(tt.wantModes, ",") {
				t.Errorf("training POSTs with modes %q, want %q", got, tt.wantModes)
			}
			for _, s := range r.Steps {
				if s.Name == langsync.StepTrain && !strings.Contains(s.Note, tt.wantNote) || s.Name == langsync.StepTrain && tt.wantNote == "" && s.Note != "" {
					t.Errorf("train step note %q, want %q", s.Note, tt.wantNote)
				}
			}
		})
	}
}
