package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/authoring"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/pipeline"
	"github.com/langsync/langsync/shared/predict"
)

// TestAdapterErrorsMatchDomain: every adapter's not-found, conflict and
// locked errors match the domain's, with no translation in between, and
// keep their own wording.
func TestAdapterErrorsMatchDomain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	state := dirState(t)
	_, _, missingBlob := state.Store.Get(ctx, "state", "missing.json")
	_, _, missingRun := state.Get(ctx, langsync.RunKey("r-missing"))
	if _, err := state.Put(ctx, "x.json", []byte("{}"), pipeline.Condition{IfNoneMatch: true}); err != nil {
		t.Fatal(err)
	}
	_, staleWrite := state.Put(ctx, "x.json", []byte("{}"), pipeline.Condition{IfNoneMatch: true})
	if _, err := state.Lock(ctx, "l.lock", time.Minute); err != nil {
		t.Fatal(err)
	}
	_, heldLock := state.Lock(ctx, "l.lock", time.Minute)

	tests := []struct {
		name string
		err  error
		want error // nil: matches none of the three
		text string
	}{
		{"missing blob", missingBlob, langsync.ErrNotFound, "blobstore: get state/missing.json: not found"},
		{"missing run", missingRun, langsync.ErrNotFound, "not found"},
		{"stale state write", staleWrite, langsync.ErrConflict, "condition not met"},
		{"held lock", heldLock, langsync.ErrLocked, "locked by another holder"},
		{"authoring 404", fmt.Errorf("get: %w", &authoring.ResponseError{StatusCode: http.StatusNotFound}), langsync.ErrNotFound, "404"},
		{"authoring sentinel", authoring.ErrNotFound, langsync.ErrNotFound, "authoring: not found"},
		{"authoring 409", &authoring.ResponseError{StatusCode: http.StatusConflict}, langsync.ErrConflict, "409"},
		{"authoring 404 classified", classify(&authoring.ResponseError{StatusCode: http.StatusNotFound}), langsync.ErrNotFound, "404"},
		{"authoring 400", &authoring.ResponseError{StatusCode: http.StatusBadRequest}, nil, "400"},
		{"predict 404", &predict.ResponseError{StatusCode: http.StatusNotFound}, langsync.ErrNotFound, "404"},
		{"predict sentinel", predict.ErrNotFound, langsync.ErrNotFound, "predict: not found"},
		{"predict not replicated", &predict.NotReplicatedError{Endpoint: "b", Project: "p", Deployment: "d", Err: &predict.ResponseError{StatusCode: http.StatusNotFound}}, langsync.ErrNotFound, "never replicated"},
		{"predict 400", &predict.ResponseError{StatusCode: http.StatusBadRequest}, nil, "400"},
	}
	kinds := []error{langsync.ErrNotFound, langsync.ErrConflict, langsync.ErrLocked}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil {
				t.Fatal("no error to check")
			}
			for _, k := range kinds {
				if got := errors.Is(tt.err, k); got != (k == tt.want) {
					t.Errorf("errors.Is(%v, %v) = %v", tt.err, k, got)
				}
			}
			if !strings.Contains(tt.err.Error(), tt.text) {
				t.Errorf("error %q lost its wording %q", tt.err, tt.text)
			}
		})
	}
	// The pipeline's names are the domain's, not copies to translate into.
	if pipeline.ErrNotFound != langsync.ErrNotFound || pipeline.ErrConflict != langsync.ErrConflict || pipeline.ErrLocked != langsync.ErrLocked {
		t.Error("pipeline sentinels are not the domain's")
	}
}
