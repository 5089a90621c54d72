package emulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Options configure a Server. The zero value of every field has a usable
// default except Keys, which must name at least one key.
type Options struct {
	// Keys are the subscription keys accepted in Ocp-Apim-Subscription-Key.
	Keys []string
	// Tokens are Microsoft Entra ID access tokens accepted as
	// "Authorization: Bearer <token>" (tests of the Entra path; the emulator
	// does not validate JWTs). Optional.
	Tokens []string
	// ForbiddenTokens are valid tokens whose identity has no role on the
	// resource: they get 403 Forbidden
	// (docs/reference/language-rest.md#http-status-mapping).
	ForbiddenTokens []string
	// DataDir, when set, keeps the resource's state in DataDir/state.json so
	// that it survives a restart. Empty means in memory only.
	DataDir string
	// Documents is the resource's linked storage, read when training (and
	// checked when importing). Nil means no storage: training fails for any
	// project with documents, naming the first one.
	Documents DocumentSource
	// JobDurations override DefaultJobDurations per job kind: export,
	// import, train, deploy, deleteDeployment, swap, deleteProject,
	// loadSnapshot, cancelTrain, analyze.
	JobDurations map[string]time.Duration
	// MinStatusReads keeps every job reported as not yet ended until its
	// status has been read this many times, however long it has run. Tests
	// of hand-over paths (a step that must see its job still running and
	// continue in a later wake-up) then hold on any machine, however
	// loaded, instead of racing the job's duration. 0: jobs end by their
	// duration alone, as on the service.
	MinStatusReads int
	// Clock is the time source; nil means the real clock.
	Clock Clock
	// Faults are the faults injected from the start.
	Faults Faults
	// Name is the resource name (used in logs and the 429 message).
	Name string
	// Logger receives one line per request at debug level; nil discards.
	Logger *slog.Logger
	// PageSize is the default page size of list operations (default 100).
	PageSize int
	// TrainingConfigVersions are the training config versions the
	// resource offers and accepts when training, each with its expiry;
	// nil means DefaultTrainingConfigVersions. Two resources may differ
	// (a secondary that lacks a preview version, or has it expired).
	TrainingConfigVersions []TrainingConfigVersion
	// NoAdvancedTraining plays a resource (language or region) without
	// advanced training of conversation projects: :train with trainingMode
	// advanced is refused with a 400; standard is accepted.
	NoAdvancedTraining bool
	// ConversationsAPIVersions, when set, are the only api-versions the
	// conversations authoring API serves (a region without the newer GA
	// version: []string{"2023-04-01"}); others get the 400 an unsupported
	// api-version gets. Nil means every version the emulator knows
	// (ConversationsAPIVersionsServed).
	ConversationsAPIVersions []string
}

// DefaultJobDurations are the job durations used when Options.JobDurations
// does not name a kind.
var DefaultJobDurations = map[string]time.Duration{
	KindExport:           200 * time.Millisecond,
	KindImport:           200 * time.Millisecond,
	KindTrain:            2 * time.Second,
	KindDeploy:           500 * time.Millisecond,
	KindDeleteDeployment: 200 * time.Millisecond,
	KindSwap:             200 * time.Millisecond,
	KindDeleteProject:    200 * time.Millisecond,
	KindLoadSnapshot:     200 * time.Millisecond,
	KindCancelTrain:      100 * time.Millisecond,
	KindAnalyze:          100 * time.Millisecond,
}

// Job kinds, as named in Options.JobDurations and --job-duration. They match
// langsync.JobKind values, plus "analyze" for runtime prediction jobs.
const (
	KindExport           = "export"
	KindImport           = "import"
	KindTrain            = "train"
	KindCancelTrain      = "cancelTrain"
	KindDeploy           = "deploy"
	KindDeleteDeployment = "deleteDeployment"
	KindSwap             = "swap"
	KindDeleteProject    = "deleteProject"
	KindLoadSnapshot     = "loadSnapshot"
	KindAnalyze          = "analyze"
)

// ParseJobDurations parses "export=200ms,train=2s" into a map, rejecting
// unknown kinds and bad durations.
func ParseJobDurations(s string) (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("emulator: job duration %q: want kind=duration, e.g. train=2s", part)
		}
		if _, known := DefaultJobDurations[k]; !known {
			return nil, fmt.Errorf("emulator: job duration %q: unknown kind %q (known: %s)", part, k, strings.Join(jobKinds(), ", "))
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("emulator: job duration %q: want a non-negative Go duration such as 500ms", part)
		}
		out[k] = d
	}
	return out, nil
}

func jobKinds() []string {
	return []string{KindExport, KindImport, KindTrain, KindDeploy, KindDeleteDeployment, KindSwap, KindDeleteProject, KindLoadSnapshot, KindCancelTrain, KindAnalyze}
}

// Clock is the emulator's time source. Job states are computed from it, so a
// fake clock moves jobs forward without sleeping.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now().UTC() }

// RealClock returns the wall clock.
func RealClock() Clock { return realClock{} }

// FakeClock is a Clock that moves only when told. Safe for concurrent use.
type FakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewFakeClock returns a fake clock set to t.
func NewFakeClock(t time.Time) *FakeClock { return &FakeClock{now: t.UTC()} }

// Now returns the clock's current time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t.UTC()
}

// DocumentSource reads labelled documents from a resource's linked storage:
// container is the project's storageInputContainerName and name the
// document's location. A missing document is an error that Is
// fs.ErrNotExist.
type DocumentSource interface {
	Open(ctx context.Context, container, name string) (io.ReadCloser, error)
}

// ContainerChecker is implemented by a DocumentSource that can tell whether
// a container exists; import fails (as the real service does) when the
// project's storageInputContainerName does not.
type ContainerChecker interface {
	ContainerExists(ctx context.Context, container string) (bool, error)
}

// DirDocuments returns a DocumentSource over a directory laid out as
// DIR/<container>/<name>.
func DirDocuments(dir string) DocumentSource { return dirDocuments(dir) }

type dirDocuments string

func (d dirDocuments) Open(ctx context.Context, container, name string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !validStoragePart(container) || !validStoragePart(name) {
		return nil, fmt.Errorf("emulator: document %s/%s: %w", container, name, fs.ErrNotExist)
	}
	f, err := os.Open(filepath.Join(string(d), container, name))
	if err != nil {
		return nil, fmt.Errorf("emulator: opening document %s/%s: %w", container, name, err)
	}
	return f, nil
}

func (d dirDocuments) ContainerExists(ctx context.Context, container string) (bool, error) {
	if !validStoragePart(container) {
		return false, nil
	}
	st, err := os.Stat(filepath.Join(string(d), container))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("emulator: checking container %s: %w", container, err)
	}
	return st.IsDir(), nil
}

// validStoragePart refuses names that would escape the directory: documents
// live at the container root
// (docs/reference/language-rest.md#throttling-and-limits).
func validStoragePart(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, `/\`) && !strings.ContainsRune(s, 0)
}
