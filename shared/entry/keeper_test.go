package entry_test

import (
	"context"
	"io"
	"testing"

	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/entry"
)

// StateKeeper writes once: a second Keep of a key (a redelivery) is not an
// error and leaves the first copy; raw bytes are kept as octet-stream.
func TestStateKeeperWritesOnce(t *testing.T) {
	ctx := context.Background()
	d, err := blobstore.NewDir(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.EnsureContainer(ctx, "state"); err != nil {
		t.Fatal(err)
	}
	k := entry.StateKeeper{Store: d, Container: "state"}
	for _, doc := range []string{`{"n":1}`, `{"n":2}`} {
		if err := k.Keep(ctx, "failed/x.json", []byte(doc)); err != nil {
			t.Fatal(err)
		}
	}
	if err := k.Keep(ctx, "failed/x.body", []byte{0xff}); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string][2]string{"failed/x.json": {`{"n":1}`, "application/json"}, "failed/x.body": {"\xff", "application/octet-stream"}} {
		rc, info, err := d.Get(ctx, "state", key)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != want[0] || info.ContentType != want[1] {
			t.Errorf("%s = %q (%s), want %q (%s)", key, b, info.ContentType, want[0], want[1])
		}
	}
}
