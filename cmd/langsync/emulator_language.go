package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/langsync"
)

func init() {
	emulatorKinds["language"] = emulatorKind{
		Summary: "an Azure AI Language resource (custom text authoring + runtime) on loopback",
		Run:     runLanguageEmulator,
	}
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// languageEmulatorFlags are the parsed flags of `langsync emulator language`.
type languageEmulatorFlags struct {
	addr, dataDir, docsDir, storage, jobDurations, faults, name string
	versions, convVersions                                      string
	keys, tokens                                                stringList
	verbose                                                     bool
}

func parseLanguageEmulatorFlags(env *Env, args []string) (*languageEmulatorFlags, emulator.Options, error) {
	f := &languageEmulatorFlags{}
	fs := newFlagSet(env, "emulator language")
	fs.StringVar(&f.addr, "addr", "127.0.0.1:7001", "`host:port` to listen on (port 0 picks a free one)")
	fs.Var(&f.keys, "key", "subscription `key` to accept (repeatable; required)")
	fs.Var(&f.tokens, "token", "Entra ID bearer `token` to accept as Authorization: Bearer (repeatable; for tests of the Entra path)")
	fs.StringVar(&f.dataDir, "data-dir", "", "`directory` keeping the resource's state across restarts (default: in memory)")
	fs.StringVar(&f.docsDir, "docs-dir", "", "`directory` of labelled documents laid out as DIR/<container>/<location>")
	fs.StringVar(&f.storage, "storage", "", "Blob `connection string` or account URL of the linked storage (container = storageInputContainerName, blob = location)")
	fs.StringVar(&f.jobDurations, "job-duration", "", "job durations per `kind`, e.g. export=200ms,import=200ms,train=2s,deploy=500ms")
	fs.StringVar(&f.faults, "faults", "", "faults from the start, e.g. ratelimit,throttle=0.1,errors=0.1,status=503,latency=50ms,drop=0.05,jobfail=0.5,down,seed=7")
	fs.StringVar(&f.versions, "training-config-versions", "", "training config `versions` offered, as [kind:]version=expiry, expiry a date or days from the first start, e.g. 2022-05-01=+365d,2022-05-15-preview=-1d (default 2022-05-01=+365d,2022-05-15-preview=+180d,2023-04-15-preview=+540d)")
	fs.StringVar(&f.convVersions, "conversations-api-versions", "", "the only conversations authoring api-`versions` served, comma-separated, e.g. 2023-04-01 to play a region without 2025-11-01 (default: 2022-05-01,2023-04-01,2025-11-01)")
	fs.StringVar(&f.name, "name", "emulator", "resource `name` (for logs)")
	fs.BoolVar(&f.verbose, "verbose", false, "log every request to stderr")
	if err := parseNoArgs(fs, args); err != nil {
		return nil, emulator.Options{}, err
	}
	hint := "langsync emulator language --help"
	if len(f.keys) == 0 {
		return nil, emulator.Options{}, usagef(hint, "--key is required (clients send it as Ocp-Apim-Subscription-Key)")
	}
	for _, k := range f.keys {
		if k == "" {
			return nil, emulator.Options{}, usagef(hint, "--key must not be empty")
		}
	}
	if f.docsDir != "" && f.storage != "" {
		return nil, emulator.Options{}, usagef(hint, "give --docs-dir or --storage, not both")
	}
	if f.storage != "" {
		// The same strict parse as a config's storage: a typo is a usage
		// error, never a directory named after it.
		if _, err := langsync.ParseStoreLocator(f.storage); err != nil {
			return nil, emulator.Options{}, usagef(hint, "--storage: %v", err)
		}
	}
	durations, err := emulator.ParseJobDurations(f.jobDurations)
	if err != nil {
		return nil, emulator.Options{}, usagef(hint, "--job-duration: %v", err)
	}
	faults, err := emulator.ParseFaults(f.faults)
	if err != nil {
		return nil, emulator.Options{}, usagef(hint, "--faults: %v", err)
	}
	versions, err := emulator.ParseTrainingConfigVersions(f.versions)
	if err != nil {
		return nil, emulator.Options{}, usagef(hint, "--training-config-versions: %v", err)
	}
	opts := emulator.Options{Keys: f.keys, Tokens: f.tokens, DataDir: f.dataDir, JobDurations: durations, Faults: faults, Name: f.name,
		TrainingConfigVersions: versions}
	if strings.TrimSpace(f.convVersions) != "" {
		served := emulator.ConversationsAPIVersionsServed()
		for _, v := range strings.Split(f.convVersions, ",") {
			v = strings.TrimSpace(v)
			if !slices.Contains(served, v) {
				return nil, emulator.Options{}, usagef(hint, "--conversations-api-versions: %q is not a conversations api-version the emulator serves (%s)", v, strings.Join(served, ", "))
			}
			opts.ConversationsAPIVersions = append(opts.ConversationsAPIVersions, v)
		}
	}
	if f.docsDir != "" {
		opts.Documents = emulator.DirDocuments(f.docsDir)
	}
	return f, opts, nil
}

func runLanguageEmulator(ctx context.Context, env *Env, args []string) error {
	f, opts, err := parseLanguageEmulatorFlags(env, args)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if f.verbose {
		level = slog.LevelDebug
	}
	opts.Logger = slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
	if f.storage != "" {
		docs, err := openStorageDocuments(ctx, f.storage)
		if err != nil {
			return fmt.Errorf("emulator language: --storage: %w", err)
		}
		opts.Documents = docs
	}
	srv, err := emulator.New(opts)
	if err != nil {
		return fmt.Errorf("emulator language: %w", err)
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		srv.Close()
		return fmt.Errorf("emulator language: listening on %s: %w (is another process using it? try --addr 127.0.0.1:0)", f.addr, err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(env.Stdout, "langsync emulator language %q listening on http://%s\n", f.name, ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		srv.Close()
		return fmt.Errorf("emulator language: serving: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	shutdownErr := hs.Shutdown(sctx)
	if err := srv.Close(); err != nil {
		return fmt.Errorf("emulator language: saving state: %w", err)
	}
	if shutdownErr != nil && !errors.Is(shutdownErr, context.DeadlineExceeded) {
		return fmt.Errorf("emulator language: shutting down: %w", shutdownErr)
	}
	return nil
}
