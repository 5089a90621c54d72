package local_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/sample"
)

// TestConversationProjectsOnLocalHost: beside the Tickets classification
// project, the Travel CLU project and the TravelRouter orchestration
// project replicate through the local host (trained and deployed on the
// secondary, answering predictions, the router routing to the replica),
// each leaves a backup, and their backups dropped under
// restore/secondary/<other name>/ are restored there under that name and
// answer too.
func TestConversationProjectsOnLocalHost(t *testing.T) {
	t.Parallel()
	r := newRig(t, 200*time.Millisecond)
	for _, p := range sample.Conversations() {
		r.src.LoadConversation(p.Name, p.JSON)
		r.src.TrainAndDeployConversation(p.Name, "v1", "production")
	}
	r.more = "  - {name: Travel, source: primary, targets: [secondary]}\n  - {name: TravelRouter, source: primary, targets: [secondary]}\n"
	cfg := r.config(t)
	h, logs := restoringHost(t, cfg, "Tickets, Travel and TravelRouter replicated", 60*time.Second)
	ctx := context.Background()

	const book, cancel = "book me a flight to Madrid", "cancel my booking QX7781"
	if out := r.tgt.AnalyzeConversation("Travel", "production", cancel); !strings.Contains(out, `"topIntent":"CancelBooking"`) || !strings.Contains(out, `"text":"QX7781"`) {
		t.Errorf("Travel on the secondary: %s", out)
	}
	if out := r.tgt.AnalyzeConversation("TravelRouter", "production", book); !strings.Contains(out, `"topIntent":"Travel"`) || !strings.Contains(out, `"topIntent":"BookFlight"`) {
		t.Errorf("TravelRouter on the secondary: %s", out)
	}
	for _, p := range []string{"Travel", "TravelRouter"} {
		if n := writes(r.tgt, "analyze-conversations/projects/"+p+"/:train"); n != 1 {
			t.Errorf("%d training POSTs for %s on the secondary, want 1", n, p)
		}
	}

	// Restore each backup under another name by dropping it.
	drops := map[string]string{"Travel": "TravelOld", "TravelRouter": "RouterOld"}
	var keys []string
	for project, as := range drops {
		keys = append(keys, dropBackup(t, h, project, as))
	}
	for _, as := range drops {
		waitFor(t, as+" deployed on the secondary", 60*time.Second, func() bool {
			code, _, _ := r.tgt.Do("GET", "/language/authoring/analyze-conversations/projects/"+as+"/deployments/production?api-version=2023-04-01", nil)
			return code == 200
		}, logs)
	}
	if out := r.tgt.AnalyzeConversation("TravelOld", "production", cancel); !strings.Contains(out, `"topIntent":"CancelBooking"`) {
		t.Errorf("TravelOld on the secondary: %s", out)
	}
	// The restored router routes to the CLU replica configured for the
	// secondary (Travel), so it answers.
	if out := r.tgt.AnalyzeConversation("RouterOld", "production", book); !strings.Contains(out, `"topIntent":"BookFlight"`) {
		t.Errorf("RouterOld on the secondary: %s", out)
	}
	for _, key := range keys {
		waitFor(t, "the drop "+key+" removed", 10*time.Second, func() bool {
			_, err := h.App.Store.Stat(ctx, cfg.Containers.State, key)
			return err != nil
		}, logs)
	}
}
