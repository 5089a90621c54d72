package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/backup"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/local"
)

// TestBadNameDropMovedAsideOnce: a dropped backup whose project name is
// invalid is moved to failed/ with its reason on the first listing; the
// next listing, and a restarted host, find nothing to retry, and the
// target never hears of it.
func TestBadNameDropMovedAsideOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t, 200*time.Millisecond)
	cfg := r.config(t)
	ctx := context.Background()
	export, err := os.ReadFile("../backup/testdata/studio-export.json")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{"dotdot": "..", "traversal": "a/../../b", "long": strings.Repeat("n", 300)}
	h, err := local.New(ctx, cfg, &local.Options{App: roomy})
	if err != nil {
		t.Fatal(err)
	}
	h.SetRestorer(h.App)
	for file, name := range names {
		q, _ := json.Marshal(name)
		e := bytes.Replace(export, []byte(`"projectName": "Tickets"`), []byte(`"projectName": `+string(q)), 1)
		var buf bytes.Buffer
		if _, err := backup.Write(ctx, &buf, bytes.NewReader(e), nil, backup.ManifestInfo{Source: "primary"}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.App.Store.Put(ctx, cfg.Containers.State, "restore/secondary/"+file+".tar.gz", &buf, nil); err != nil {
			t.Fatal(err)
		}
	}
	r.tgt.Server.ResetRequests()
	h.WatchRestore(ctx)
	failed := func() []string {
		infos, err := h.App.Store.List(ctx, cfg.Containers.State, langsync.FailedPrefix)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, i := range infos {
			keys = append(keys, i.Key)
		}
		return keys
	}
	kept := failed()
	if len(kept) != 2*len(names) {
		t.Fatalf("failed/ holds %v, want each drop and its reason", kept)
	}
	for _, k := range kept {
		if !strings.HasSuffix(k, ".reason.json") {
			continue
		}
		rc, _, err := h.App.Store.Get(ctx, cfg.Containers.State, k)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct{ Reason string }
		err = json.NewDecoder(rc).Decode(&doc)
		rc.Close()
		if err != nil || !strings.Contains(doc.Reason, "project name") {
			t.Errorf("%s: reason %q (%v), want the bad project name", k, doc.Reason, err)
		}
	}
	if left, _ := h.App.Store.List(ctx, cfg.Containers.State, langsync.RestorePrefix); len(left) != 0 {
		t.Fatalf("restore/ still holds %v", left)
	}
	// The next listing and a restart: nothing more happens.
	h.WatchRestore(ctx)
	h2, err := local.New(ctx, cfg, &local.Options{App: roomy})
	if err != nil {
		t.Fatal(err)
	}
	h2.SetRestorer(h2.App)
	h2.WatchRestore(ctx)
	if again := failed(); len(again) != len(kept) {
		t.Fatalf("after another listing and a restart failed/ holds %d blobs, want %d", len(again), len(kept))
	}
	if n := len(r.tgt.Server.Requests()); n != 0 {
		t.Errorf("the target received %d requests for drops with bad names", n)
	}
}
