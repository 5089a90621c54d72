package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
	"github.com/langsync/langsync/shared/pipeline"
)

// TestStatusExpiryAndRenew: the secondary offers the source model's
// 2022-05-01 only for 20 more days (and a longer-lived preview). After a
// replication, status shows the expiry on both sides with a warning; sync
// leaves it alone until renewExpiring is on, then renews it.
func TestStatusExpiryAndRenew(t *testing.T) {
	t.Parallel()
	src := emulatortest.Start(t, &emulator.Options{Name: "primary", Clock: emulator.RealClock()})
	tgt := emulatortest.Start(t, &emulator.Options{Name: "secondary", Clock: emulator.RealClock(), TrainingConfigVersions: []emulator.TrainingConfigVersion{
		{Version: "2022-05-01", Expires: "+20d"}, {Version: "2023-04-15-preview", Expires: "+700d"}}})
	src.Load(emulatortest.SingleLabelProject("Tickets", "tickets", 12))
	src.TrainAndDeploy("Tickets", "model1", "production")
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "langsync.yaml")
	writeCfg := func(extra string) {
		cfg := fmt.Sprintf("resources:\n  primary: {endpoint: %q, key: \"${SRC_KEY}\", storage: %q}\n  secondary: {endpoint: %q, key: \"${TGT_KEY}\", storage: %q}\n"+
			"projects: [{name: Tickets, source: primary, targets: [secondary]}]\nstore: %q\n%s", src.URL, src.DocsDir, tgt.URL, tgt.DocsDir, filepath.Join(dir, "store"), extra)
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeCfg("")
	env := map[string]string{"SRC_KEY": src.Key, "TGT_KEY": tgt.Key}
	if code, stdout, stderr := runCLI(t, env, "replicate", "--config", cfgPath); code != exitOK {
		t.Fatalf("replicate exit %d\n%s\n%s", code, stdout, stderr)
	}
	today := time.Now().UTC()
	tgtExp := today.AddDate(0, 0, 20).Format(time.DateOnly)

	// An expiry within the window is an alert: status exits 3 after its
	// whole report.
	code, stdout, stderr := runCLI(t, env, "status", "--config", cfgPath, "--json")
	var st []pipeline.PairStatus
	if code != exitAlert || !strings.Contains(stderr, "1 pair(s) alerting") || json.Unmarshal([]byte(stdout), &st) != nil || len(st) != 1 {
		t.Fatalf("status --json exit %d: %s %s", code, stdout, stderr)
	}
	if len(st[0].SourceExpiry) != 1 || len(st[0].TargetExpiry) != 1 || st[0].TargetExpiry[0].TrainingConfigVersion != "2022-05-01" ||
		st[0].Expires.Format(time.DateOnly) != tgtExp || st[0].SourceExpiry[0].ModelExpires.IsZero() || st[0].TargetExpiry[0].VersionExpires.IsZero() {
		t.Errorf("expiry in status --json: %s", stdout)
	}
	if len(st) == 1 && (len(st[0].Alerts) == 0 || st[0].Alerts[0].Kind != pipeline.AlertExpiry) {
		t.Errorf("alerts in status --json: %+v, want an expiry alert", st[0].Alerts)
	}
	code, stdout, _ = runCLI(t, env, "status", "--config", cfgPath)
	t.Logf("status:\n%s", stdout)
	for _, want := range []string{"EXPIRES", tgtExp + " !", "expiry warnings", "ALERTS", "primary/Tickets -> secondary: expiry: target secondary/Tickets",
		"target secondary/Tickets: deployment production (model model1) expires " + tgtExp, "before the source's"} {
		if code != exitAlert || !strings.Contains(stdout, want) {
			t.Errorf("status table (exit %d, want 3) lacks %q:\n%s", code, want, stdout)
		}
	}

	code, stdout, _ = runCLI(t, env, "sync", "--config", cfgPath)
	if code != exitOK || !strings.Contains(stdout, "none (up to date") {
		t.Errorf("sync with renewExpiring off, exit %d:\n%s", code, stdout)
	}
	writeCfg("renewExpiring: true\n")
	code, stdout, stderr = runCLI(t, env, "sync", "--config", cfgPath)
	if code != exitOK || !strings.Contains(stdout, "renew: model expires "+tgtExp) {
		t.Fatalf("sync with renewExpiring on, exit %d:\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, _ = runCLI(t, env, "status", "--config", cfgPath, "--json")
	st = nil
	if code != exitOK || json.Unmarshal([]byte(stdout), &st) != nil || len(st) != 1 || len(st[0].TargetExpiry) != 1 ||
		st[0].TargetExpiry[0].TrainingConfigVersion != "2023-04-15-preview" || len(st[0].VersionChanges) != 1 || len(st[0].ExpiryWarnings) != 0 {
		t.Errorf("status after renewal: %s", stdout)
	}
}
