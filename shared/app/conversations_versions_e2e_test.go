package app_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/authoring"
	"github.com/langsync/langsync/shared/backup"
	"github.com/langsync/langsync/shared/blobstore/azuritetest"
	"github.com/langsync/langsync/shared/config"
	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/pipeline"
	"github.com/langsync/langsync/shared/sample"
)

// versionRig is two emulated regions with the Travel sample deployed on
// the primary and each resource's conversationsApiVersion set as given
// ("" leaves the setting out: the default). The secondary serves only
// the conversations api-versions tgtServes (nil: all), so a request at
// another version fails the test through a 400.
func versionRig(t *testing.T, srcVersion, tgtVersion string, tgtServes []string) (src, tgt *emulatortest.Resource, a *app.App, cfg *config.Config) {
	t.Helper()
	src = emulatortest.Start(t, &emulator.Options{Name: "primary"})
	tgt = emulatortest.Start(t, &emulator.Options{Name: "secondary", ConversationsAPIVersions: tgtServes})
	travel := sample.Travel()
	src.LoadConversation(travel.Name, travel.JSON)
	src.TrainAndDeployConversation(travel.Name, "model1", "production")
	setting := func(v string) string {
		if v == "" {
			return ""
		}
		return ", conversationsApiVersion: " + v
	}
	n := containerSeq.Add(1)
	y := fmt.Sprintf(`resources:
  primary: {endpoint: %q, key: "${SRC_KEY}"%s}
  secondary: {endpoint: %q, key: "${TGT_KEY}"%s}
projects:
  - {name: Travel, source: primary, targets: [secondary]}
store: "${STORE}"
containers: {backups: backups-%d, state: state-%d}
`, src.URL, setting(srcVersion), tgt.URL, setting(tgtVersion), n, n)
	env := map[string]string{"SRC_KEY": src.Key, "TGT_KEY": tgt.Key, "STORE": azuritetest.Shared(t)}
	cfg, err := config.Parse([]byte(y), func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	a, err = app.New(context.Background(), cfg, &app.Options{
		Authoring: &authoring.ClientOptions{Budget: authoring.NewRateBudget(authoring.BudgetOptions{Writes: 100000, Reads: 100000})},
	})
	if err != nil {
		t.Fatal(err)
	}
	src.Server.ResetRequests()
	return src, tgt, a, cfg
}

// convVersionsOnWire lists the api-versions of the conversations
// authoring requests a resource received, each once, and counts them.
func convVersionsOnWire(res *emulatortest.Resource) (map[string]int, []string) {
	seen := map[string]int{}
	var failed []string
	for _, q := range res.Server.Requests() {
		if strings.HasPrefix(q.Path, "/language/authoring/analyze-conversations/") {
			seen[q.APIVersion]++
			if q.Status >= 400 && q.Status != http.StatusNotFound {
				failed = append(failed, fmt.Sprintf("%s %s?api-version=%s: %d", q.Method, q.Path, q.APIVersion, q.Status))
			}
		}
	}
	return seen, failed
}

// TestConversationsAPIVersionPerResource: one resource on 2023-04-01 and
// the other on 2025-11-01, in both directions. Sync replicates the CLU
// project, each resource is spoken to at its own version only (the target
// serves no other), the backup records the version the export was taken
// with, and restoring that backup into the resource on the other version
// works.
func TestConversationsAPIVersionPerResource(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name             string
		srcSetting       string // "" = the default
		srcWant, tgtWant string
	}{
		{"2023-04-01 to 2025-11-01", "", "2023-04-01", "2025-11-01"},
		{"2025-11-01 to 2023-04-01", "2025-11-01", "2025-11-01", "2023-04-01"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src, tgt, a, cfg := versionRig(t, tt.srcSetting, tt.tgtWant, []string{tt.tgtWant})
			ctx := context.Background()
			res, err := a.Pipeline.Sync(ctx, pipeline.SyncOptions{})
			if err != nil || len(res.Wake) != 1 {
				t.Fatalf("Sync: %v %+v", err, res)
			}
			run, err := a.Drive(ctx, res.Wake[0].Run)
			if err != nil || run.Phase != langsync.RunSucceeded {
				t.Fatalf("run: %v %+v", err, run)
			}
			if out := tgt.AnalyzeConversation("Travel", "production", "cancel my booking QX7781"); !strings.Contains(out, `"topIntent":"CancelBooking"`) {
				t.Errorf("Travel on the target: %s", out)
			}
			for _, side := range []struct {
				name string
				r    *emulatortest.Resource
				want string
			}{{"primary", src, tt.srcWant}, {"secondary", tgt, tt.tgtWant}} {
				seen, failed := convVersionsOnWire(side.r)
				if len(seen) != 1 || seen[side.want] == 0 || len(failed) > 0 {
					t.Errorf("%s: conversations requests by api-version %v (failed: %q), want all at %s", side.name, seen, failed, side.want)
				}
			}

			// The backup records the source's version.
			var key string
			for _, m := range run.Models {
				key = m.Backup
			}
			man, err := backup.NewCatalog(a.Store, cfg.Containers.Backups).Verify(ctx, key)
			if err != nil {
				t.Fatalf("backup %q: %v", key, err)
			}
			if man.APIVersion != tt.srcWant || man.ProjectKind != string(langsync.Conversation) {
				t.Errorf("backup manifest apiVersion %q kind %q, want %s Conversation", man.APIVersion, man.ProjectKind, tt.srcWant)
			}

			// Restored into the resource on the other version.
			tgt.Server.ResetRequests()
			plan, tk, err := a.Restore(ctx, app.RestoreRequest{Project: "Travel", At: time.Now().Add(time.Minute), To: "secondary", As: "TravelOld"})
			if err != nil {
				t.Fatalf("restore: %v (plan %+v)", err, plan)
			}
			if run, err := a.Drive(ctx, tk.Run); err != nil || run.Phase != langsync.RunSucceeded {
				t.Fatalf("restore run: %v %+v", err, run)
			}
			if out := tgt.AnalyzeConversation("TravelOld", "production", "cancel my booking QX7781"); !strings.Contains(out, `"topIntent":"CancelBooking"`) {
				t.Errorf("TravelOld on the target: %s", out)
			}
			if seen, failed := convVersionsOnWire(tgt); len(seen) != 1 || seen[tt.tgtWant] == 0 || tgt.Server.CountRequests(http.MethodPost, "TravelOld/:import") != 1 || len(failed) > 0 {
				t.Errorf("restore: conversations requests by api-version %v (failed: %q), want an import and all at %s", seen, failed, tt.tgtWant)
			}
		})
	}
}

// TestConversationsAPIVersionRefusedNamesSetting: a target configured for
// 2025-11-01 whose region serves only 2023-04-01 fails the run with an
// error that names the setting to change, the version and the choices.
func TestConversationsAPIVersionRefusedNamesSetting(t *testing.T) {
	t.Parallel()
	_, tgt, a, _ := versionRig(t, "", "2025-11-01", []string{"2023-04-01"})
	ctx := context.Background()
	res, err := a.Pipeline.Sync(ctx, pipeline.SyncOptions{})
	if err != nil || len(res.Wake) != 1 {
		t.Fatalf("Sync: %v %+v", err, res)
	}
	run, _ := a.Drive(ctx, res.Wake[0].Run)
	const want = "the resource does not serve api-version 2025-11-01 of the conversations authoring API: set resources.secondary.conversationsApiVersion to a version it serves (2023-04-01, the default, or 2025-11-01)"
	if run == nil || run.Phase != langsync.RunFailed || !strings.Contains(run.Error, want) {
		t.Fatalf("run %+v, want it failed with %q", run, want)
	}
	if n := authoringWrites(tgt); n != 0 {
		t.Errorf("%d writes reached the target", n)
	}
}
