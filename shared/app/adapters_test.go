package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/authoring"
	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/pipeline"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want error
		not  error
	}{
		{"not found", fmt.Errorf("x: %w", authoring.ErrNotFound), pipeline.ErrNotFound, pipeline.ErrTransient},
		{"throttled", fmt.Errorf("x: %w", authoring.ErrThrottled), pipeline.ErrTransient, nil},
		{"conflict", authoring.ErrConflict, pipeline.ErrTransient, nil},
		{"maybe started", authoring.ErrMaybeStarted, pipeline.ErrTransient, nil},
		{"5xx", &authoring.ResponseError{StatusCode: http.StatusBadGateway}, pipeline.ErrTransient, nil},
		{"400 is permanent", &authoring.ResponseError{StatusCode: http.StatusBadRequest}, nil, pipeline.ErrTransient},
		{"unauthorized is permanent", authoring.ErrUnauthorized, nil, pipeline.ErrTransient},
		{"unreachable", fmt.Errorf("x: %w", authoring.ErrUnreachable), pipeline.ErrUnreachable, nil},
		{"unreachable is transient", fmt.Errorf("x: %w", authoring.ErrUnreachable), pipeline.ErrTransient, nil},
		{"unreachable job start", errors.Join(authoring.ErrUnreachable, authoring.ErrMaybeStarted), pipeline.ErrUnreachable, nil},
		{"answered 5xx is not unreachable", &authoring.ResponseError{StatusCode: http.StatusServiceUnavailable}, pipeline.ErrTransient, pipeline.ErrUnreachable},
		{"throttled is not unreachable", fmt.Errorf("x: %w", authoring.ErrThrottled), pipeline.ErrTransient, pipeline.ErrUnreachable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify(tt.err)
			if tt.want != nil && !errors.Is(got, tt.want) {
				t.Errorf("classify(%v) = %v, want Is %v", tt.err, got, tt.want)
			}
			if tt.not != nil && errors.Is(got, tt.not) {
				t.Errorf("classify(%v) = %v, must not be %v", tt.err, got, tt.not)
			}
			if !errors.Is(got, tt.err) {
				t.Errorf("classify lost the cause")
			}
		})
	}
	if classify(nil) != nil {
		t.Errorf("classify(nil) != nil")
	}
}

func TestClassifyThrottledKeepsRetryAfter(t *testing.T) {
	t.Parallel()
	err := classify(fmt.Errorf("get: %w", &authoring.ResponseError{StatusCode: http.StatusTooManyRequests, RetryAfter: 90 * time.Second}))
	var te *pipeline.ThrottledError
	if !errors.As(err, &te) || te.RetryAfter != 90*time.Second || !errors.Is(err, pipeline.ErrTransient) || !errors.Is(err, authoring.ErrThrottled) {
		t.Errorf("classify(429 Retry-After 90s) = %#v", err)
	}
	// Without a Retry-After it is an ordinary transient error.
	if err := classify(&authoring.ResponseError{StatusCode: http.StatusTooManyRequests}); errors.As(err, &te) || !errors.Is(err, pipeline.ErrTransient) {
		t.Errorf("classify(429) = %v", err)
	}
}

// dirState is a StateStore over a fresh directory store's "state" container.
func dirState(t *testing.T) *StateStore {
	t.Helper()
	d, err := blobstore.NewDir(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.EnsureContainer(context.Background(), "state"); err != nil {
		t.Fatal(err)
	}
	return &StateStore{Store: d, Container: "state"}
}

func TestStateStoreOverDir(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dirState(t)
	if _, _, err := s.Get(ctx, "runs/x.json"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("Get(missing) = %v, want ErrNotFound", err)
	}
	tag, err := s.Put(ctx, "runs/x.json", []byte("{}"), pipeline.Condition{IfNoneMatch: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "runs/x.json", []byte("{}"), pipeline.Condition{IfNoneMatch: true}); !errors.Is(err, pipeline.ErrConflict) {
		t.Errorf("second create = %v, want ErrConflict", err)
	}
	if _, err := s.Put(ctx, "runs/x.json", []byte(`{"a":1}`), pipeline.Condition{IfMatch: tag}); err != nil {
		t.Errorf("Put(IfMatch current) = %v", err)
	}
	if _, err := s.Put(ctx, "runs/x.json", []byte(`{}`), pipeline.Condition{IfMatch: tag}); !errors.Is(err, pipeline.ErrConflict) {
		t.Errorf("Put(IfMatch stale) = %v, want ErrConflict", err)
	}
	data, _, err := s.Get(ctx, "runs/x.json")
	if err != nil || string(data) != `{"a":1}` {
		t.Errorf("Get = %q %v", data, err)
	}
	release, err := s.Lock(ctx, "locks/a", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lock(ctx, "locks/a", 30*time.Second); !errors.Is(err, pipeline.ErrLocked) {
		t.Errorf("second Lock = %v, want ErrLocked", err)
	}
	if err := release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lock(ctx, "locks/a", 30*time.Second); err != nil {
		t.Errorf("Lock after release = %v", err)
	}
}

func TestScrub(t *testing.T) {
	t.Parallel()
	err := scrub(errors.New("bad store AccountKey=abc123"), "AccountKey=abc123")
	if err.Error() != "bad store [REDACTED]" {
		t.Errorf("scrub = %q", err)
	}
}
