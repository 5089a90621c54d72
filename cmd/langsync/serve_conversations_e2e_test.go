package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/blobstore/storeopen"
	"github.com/langsync/langsync/shared/customhandler/customhandlertest"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/queue"
)

// TestServeEndToEndConversations drives the Travel CLU project and the
// TravelRouter orchestration project, beside Tickets, through the
// production form (`langsync serve` behind the Functions host simulator,
// the Service Bus stand-in, Azurite, two Language emulators): the timer
// replicates all three through the step functions; both conversation
// projects are trained and deployed on the secondary and answer, the
// router routing to the replica; each left a backup in Blob; the Travel
// backup restores under another name through a langsync-import message,
// and the TravelRouter backup through a drop under
// restore/secondary/RouterOld/ (the blob trigger); both answer.
func TestServeEndToEndConversations(t *testing.T) {
	t.Parallel()
	ctx, cancel := testContext(t)
	defer cancel()
	r := newE2ERigWith(t, 300*time.Millisecond, true)
	s := startServe(t, r.env, e2eAppOptions)
	host, front, runErr, hcancel := r.fireSync(t, ctx, s)
	defer hcancel()
	diag := func() string { return tail(s.stdout.String(), 40) }
	for _, p := range []string{"Tickets", "Travel", "TravelRouter"} {
		if ph := r.waitProject(t, ctx, front.URL, p, diag); ph != langsync.RunSucceeded {
			t.Fatalf("%s run %s", p, ph)
		}
	}
	const book, cancelText = "book me a flight to Madrid", "cancel my booking QX7781"
	if out := r.tgt.AnalyzeConversation("Travel", "production", cancelText); !strings.Contains(out, `"topIntent":"CancelBooking"`) || !strings.Contains(out, `"text":"QX7781"`) {
		t.Errorf("Travel on the secondary: %s", out)
	}
	if out := r.tgt.AnalyzeConversation("TravelRouter", "production", book); !strings.Contains(out, `"topIntent":"Travel"`) || !strings.Contains(out, `"topIntent":"BookFlight"`) {
		t.Errorf("TravelRouter on the secondary: %s", out)
	}
	for _, p := range []string{"Travel", "TravelRouter"} {
		if n := r.targetWrites("analyze-conversations/projects/" + p + "/:train"); n != 1 {
			t.Errorf("%d training POSTs for %s on the secondary, want 1", n, p)
		}
	}

	bs, err := storeopen.Open(ctx, r.store, nil)
	if err != nil {
		t.Fatal(err)
	}
	backupOf := func(project string) string {
		t.Helper()
		bk, err := bs.List(ctx, langsync.DefaultBackupContainer, langsync.BackupPrefix("primary", project))
		if err != nil || len(bk) != 1 {
			t.Fatalf("backups of %s: %v (%v), want one", project, bk, err)
		}
		return bk[0].Key
	}
	travelKey, routerKey := backupOf("Travel"), backupOf("TravelRouter")

	// Travel restored under another name by a message on langsync-import.
	snd, err := queue.NewServiceBus(r.sb.ConnectionString, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close(context.Background())
	if err := snd.Send(ctx, "langsync-import", []byte(fmt.Sprintf(`{"backup":%q,"target":"secondary","as":"TravelOld"}`, travelKey)), "restore-travel"); err != nil {
		t.Fatal(err)
	}
	// TravelRouter restored under another name by a dropped copy.
	archive := readBlob(t, ctx, bs, langsync.DefaultBackupContainer, routerKey)
	host.SetBlobs(customhandlertest.StoreBlobs{Store: bs})
	if _, err := bs.Put(ctx, langsync.DefaultStateContainer, "restore/secondary/RouterOld/"+path.Base(routerKey), bytes.NewReader(archive), nil); err != nil {
		t.Fatal(err)
	}
	if n, err := host.ScanBlobs(ctx); err != nil || n != 1 {
		t.Fatalf("blob scan delivered %d (%v), want 1", n, err)
	}
	for _, res := range host.Results() {
		if res.Function == "restore" && !res.OK() {
			t.Fatalf("restore invocation failed: %v", res.Err)
		}
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for _, name := range []string{"TravelOld", "RouterOld"} {
		for {
			code, _, _ := r.tgt.Do(http.MethodGet, "/language/authoring/analyze-conversations/projects/"+name+"/deployments/production?api-version=2023-04-01", nil)
			if code == http.StatusOK {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("restore to %s did not finish\n%s", name, diag())
			case <-tick.C:
			}
		}
	}
	if out := r.tgt.AnalyzeConversation("TravelOld", "production", cancelText); !strings.Contains(out, `"topIntent":"CancelBooking"`) {
		t.Errorf("TravelOld on the secondary: %s", out)
	}
	if out := r.tgt.AnalyzeConversation("RouterOld", "production", book); !strings.Contains(out, `"topIntent":"BookFlight"`) {
		t.Errorf("RouterOld on the secondary: %s", out)
	}
	if kept, _ := bs.List(ctx, langsync.DefaultStateContainer, langsync.FailedPrefix); len(kept) != 0 {
		t.Errorf("failed/ holds %v: a message or drop was refused", kept)
	}
	hcancel()
	if err := <-runErr; err != nil {
		t.Fatalf("simulator: %v", err)
	}
	for _, secret := range []string{r.src.Key, r.tgt.Key} {
		if strings.Contains(s.stdout.String()+s.stderr.String(), secret) {
			t.Fatal("a Language key reached the logs")
		}
	}
}
