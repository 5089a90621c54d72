package app

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/langsync/langsync/shared/authoring"
	"github.com/langsync/langsync/shared/backup"
	"github.com/langsync/langsync/shared/blobstore"
	"github.com/langsync/langsync/shared/blobstore/storeopen"
	"github.com/langsync/langsync/shared/config"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/metrics"
	"github.com/langsync/langsync/shared/pipeline"
)

// Options tune New; nil means defaults.
type Options struct {
	Logger *slog.Logger
	// Authoring is the base client options for every resource (API
	// version, transport, poll intervals). The rate budget is shared by
	// every client of the process unless set. ConversationsAPIVersion
	// and its setting come from each resource's config
	// (conversationsApiVersion), whatever is set here.
	Authoring *authoring.ClientOptions
	// Blob configures the state/backup store and Blob linked storage.
	Blob *storeopen.Options
	// Credential for resources with auth: entra and account-URL stores;
	// default DefaultAzureCredential (created on first use).
	Credential azcore.TokenCredential
	// Archive is the backup archive format; default shared/backup's.
	Archive Archiver
	// Limits bound what restore reads from a backup or a dropped file
	// (archive size, decompressed size, file count, document and JSON
	// size); nil means backup.DefaultLimits.
	Limits *backup.Limits
	// Pipeline, if set, adjusts the pipeline options before it is built
	// (poll budget, progress callback, test hooks).
	Pipeline func(*pipeline.Options)
	// Metrics, if set, records step durations, job retries, backups
	// written and throttled requests (docs/observability.md#metrics).
	Metrics *metrics.Recorder
}

// App is langsync wired from a config.
type App struct {
	Config   *config.Config
	Store    blobstore.Store
	State    *StateStore
	Backups  *Backups
	Pipeline *pipeline.Pipeline
	Logger   *slog.Logger

	opts      Options
	mu        sync.Mutex
	clients   map[string]*authoring.Client
	docStores map[string]blobstore.Store
	cred      azcore.TokenCredential
}

// New opens the store (creating its containers), prepares one authoring
// client per resource (created on first use) and builds the pipeline.
func New(ctx context.Context, cfg *config.Config, opts *Options) (*App, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	a := &App{Config: cfg, Logger: o.Logger, opts: o, clients: map[string]*authoring.Client{}, docStores: map[string]blobstore.Store{}, cred: o.Credential}
	bopts := a.blobOptions()
	store, err := storeopen.Open(ctx, cfg.Store.Reveal(), bopts)
	if err != nil {
		return nil, fmt.Errorf("app: opening store: %w", scrub(err, cfg.Store.Reveal()))
	}
	for _, c := range []string{cfg.Containers.State, cfg.Containers.Backups} {
		if err := store.EnsureContainer(ctx, c); err != nil {
			return nil, fmt.Errorf("app: creating container %s: %w", c, err)
		}
	}
	a.Store = store
	a.State = &StateStore{Store: store, Container: cfg.Containers.State}
	archive := o.Archive
	if archive == nil {
		apiVersion := authoring.APIVersion20230401
		if o.Authoring != nil && o.Authoring.APIVersion != "" {
			apiVersion = o.Authoring.APIVersion
		}
		archive = &BackupArchive{APIVersion: apiVersion, Limits: o.Limits, Endpoint: func(name string) string {
			r, _ := cfg.Resource(name)
			return r.Endpoint
		}, ConversationsAPIVersion: func(name string) string {
			r, _ := cfg.Resource(name)
			return r.ConversationsAPIVersion
		}}
	}
	a.Backups = &Backups{Store: store, Container: cfg.Containers.Backups, State: cfg.Containers.State, Documents: a.documents, Logger: o.Logger, Archive: archive}
	if m := o.Metrics; m != nil {
		a.Backups.OnWritten = func(source, project string, size int64) { m.BackupWritten(context.Background(), source, project, size) }
	}
	popts := pipeline.Options{
		Config: cfg, Probes: cfg.Probes, ExpiryWindow: time.Duration(cfg.ExpiryWindow),
		ExpiryWarning: cfg.ExpiryWarningFor("", ""), RenewExpiring: cfg.RenewExpiring,
		ExpiryWarningFor: func(pair langsync.Pair) time.Duration { return cfg.ExpiryWarningFor(pair.Source, pair.Project) },
		MaxLag:           time.Duration(cfg.Alerts.MaxLag),
		JobRetries:       cfg.JobRetries, UnreachableBudget: time.Duration(cfg.UnreachableBudget),
		State: a.State, Backups: a.Backups, Logger: o.Logger,
		Prober: &Prober{App: a},
		Clients: func(name string) (pipeline.Authoring, error) {
			c, err := a.Client(name)
			if err != nil {
				return nil, err
			}
			return &Authoring{C: c}, nil
		},
	}
	if m := o.Metrics; m != nil {
		popts.OnProgress = stepMetrics(m)
	}
	if o.Pipeline != nil {
		o.Pipeline(&popts)
	}
	p, err := pipeline.New(popts)
	if err != nil {
		return nil, err
	}
	a.Pipeline = p
	return a, nil
}

func (a *App) blobOptions() *storeopen.Options {
	var bo storeopen.Options
	if a.opts.Blob != nil {
		bo = *a.opts.Blob
	}
	if bo.Logger == nil {
		bo.Logger = a.Logger
	}
	if bo.Credential == nil && a.opts.Credential != nil {
		bo.Credential = a.opts.Credential
	}
	return &bo
}

// Client returns the (shared) authoring client of a configured resource.
func (a *App) Client(name string) (*authoring.Client, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.clients[name]; ok {
		return c, nil
	}
	res, ok := a.Config.Resource(name)
	if !ok {
		return nil, fmt.Errorf("app: resource %q is not configured", name)
	}
	var co authoring.ClientOptions
	if a.opts.Authoring != nil {
		co = *a.opts.Authoring
	}
	if co.Logger == nil {
		co.Logger = a.Logger
	}
	// The config chooses each resource's conversations api-version
	// (defaulted to 2023-04-01); a refusal names the setting.
	co.ConversationsAPIVersion = res.ConversationsAPIVersion
	co.ConversationsAPIVersionSetting = "resources." + name + ".conversationsApiVersion"
	if m := a.opts.Metrics; m != nil {
		co.OnThrottled = func() { m.Throttled(context.Background(), name) }
	}
	var c *authoring.Client
	var err error
	if res.Entra {
		cred, cerr := a.credential()
		if cerr != nil {
			return nil, cerr
		}
		c, err = authoring.NewClient(res.Endpoint, cred, &co)
	} else {
		c, err = authoring.NewKeyClient(res.Endpoint, res.Key, &co)
	}
	if err != nil {
		return nil, fmt.Errorf("app: resource %q: %w", name, err)
	}
	a.clients[name] = c
	return c, nil
}

// stepMetrics records each step's duration when it ends (done, skipped or
// failed) and each job retry.
func stepMetrics(m *metrics.Recorder) func(pipeline.Progress) {
	return func(p pipeline.Progress) {
		ctx := context.Background()
		switch p.Event {
		case "done", "skip", "fail":
			outcome := map[string]string{"done": "done", "skip": "skipped", "fail": "failed"}[p.Event]
			m.StepEnded(ctx, string(p.Step.Name), outcome, p.Elapsed)
		case "retry":
			if p.JobRetry {
				m.JobRetry(ctx, string(p.Step.Name))
			}
		}
	}
}

// credential is called with a.mu held.
func (a *App) credential() (azcore.TokenCredential, error) {
	if a.cred != nil {
		return a.cred, nil
	}
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, fmt.Errorf("app: Entra ID credential (auth: entra): %w", err)
	}
	a.cred = cred
	return cred, nil
}
