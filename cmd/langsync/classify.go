package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/langsync/langsync/shared/authoring"
	"github.com/langsync/langsync/shared/config"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/predict"
)

func classifyCommand() Command {
	return Command{Name: "classify", Summary: "predict texts with a deployed project, failing over to its replicas", Run: runClassify}
}

// classifyKinds maps --kind values to project kinds.
var classifyKinds = map[string]langsync.ProjectKind{
	"single": langsync.SingleLabelClassification,
	"multi":  langsync.MultiLabelClassification,
	"ner":    langsync.EntityRecognition,
}

func runClassify(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "classify")
	cfgPath := fs.String("config", "", "config file (langsync.yaml)")
	project := fs.String("project", "", "project name (as configured)")
	deployment := fs.String("deployment", "", "deployment name (default: the project's only configured deployment)")
	kindFlag := fs.String("kind", "", "single, multi or ner (default: read from the project on the first resource that answers)")
	asJSON := fs.Bool("json", false, "print the predictions and the client state as JSON")
	verbose := fs.Bool("v", false, "log breaker transitions and failovers to stderr")
	texts, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	hint := "langsync classify --config langsync.yaml --project P --deployment D TEXT..."
	if *project == "" {
		return usagef(hint, "--project is required")
	}
	if len(texts) == 0 {
		return usagef(hint, "no texts: give them as arguments, or - to read one per line from stdin")
	}
	if *cfgPath == "" {
		return usagef(hint, "--config is required")
	}
	cfg, err := config.Load(*cfgPath, env.Getenv)
	if err != nil {
		return &UsageError{Message: err.Error(), Hint: "fix " + *cfgPath}
	}
	var pc *config.Project
	for i := range cfg.Projects {
		if cfg.Projects[i].Name == *project {
			pc = &cfg.Projects[i]
			break
		}
	}
	if pc == nil {
		return usagef(hint, "project %q is not in %s", *project, *cfgPath)
	}
	if *deployment == "" {
		if len(pc.Deployments) != 1 {
			return usagef(hint, "--deployment is required (project %s configures %d deployments)", pc.Name, len(pc.Deployments))
		}
		*deployment = pc.Deployments[0]
	}
	if len(texts) == 1 && texts[0] == "-" {
		if texts, err = classifyReadLines(env.Stdin); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				// One line is one document; the service caps a request at
				// MaxChars, so a longer line can never be sent as it is.
				return usagef(hint, "text %d on stdin (one line) is longer than %d bytes (one line is one text; the service accepts at most %d characters per request): split it into several lines or shorten it", len(texts)+1, classifyMaxLine, predict.MaxChars)
			}
			return fmt.Errorf("reading texts from stdin: %w", err)
		}
		if len(texts) == 0 {
			return usagef(hint, "stdin held no texts (one per line)")
		}
	}
	level := slog.LevelWarn + 4
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))

	endpoints, err := classifyEndpoints(cfg, pc)
	if err != nil {
		return err
	}
	kind, ok := classifyKinds[*kindFlag]
	switch {
	case *kindFlag == "":
		if kind, err = detectKind(ctx, endpoints, pc.Name); err != nil {
			// Go on: the prediction itself says best what is wrong (a region
			// down, a project never replicated), and it usually is a
			// single-label project.
			kind = langsync.SingleLabelClassification
			fmt.Fprintf(env.Stderr, "langsync classify: %v; assuming --kind single\n", err)
		}
	case !ok:
		return usagef(hint, "--kind %q: want single, multi or ner", *kindFlag)
	}
	client, err := predict.New(endpoints, &predict.Options{Kind: kind, Logger: logger})
	if err != nil {
		return &UsageError{Message: err.Error(), Hint: "fix the resources in " + *cfgPath}
	}
	out := classifyOutput{Project: pc.Name, Deployment: *deployment, Kind: kind}
	for _, batch := range classifyBatches(texts) {
		res, err := client.Classify(ctx, pc.Name, *deployment, batch)
		if err != nil {
			if errors.Is(err, predict.ErrBadRequest) {
				return &UsageError{Message: err.Error(), Hint: hint}
			}
			return err
		}
		for _, d := range res.Documents {
			out.Documents = append(out.Documents, classifyDoc{Endpoint: res.Endpoint, Document: d})
		}
	}
	out.State = client.State()
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	printClassify(env.Stdout, &out)
	return nil
}

type classifyOutput struct {
	Project    string               `json:"project"`
	Deployment string               `json:"deployment"`
	Kind       langsync.ProjectKind `json:"kind"`
	Documents  []classifyDoc        `json:"documents"`
	State      predict.State        `json:"state"`
}

type classifyDoc struct {
	// Endpoint served this document's batch.
	Endpoint string `json:"endpoint"`
	predict.Document
}

func printClassify(w io.Writer, out *classifyOutput) {
	for _, d := range out.Documents {
		var label string
		switch {
		case d.Error != "":
			label = "error: " + d.Error
		case len(d.Classes) > 0 && out.Kind == langsync.MultiLabelClassification:
			var parts []string
			for _, c := range d.Classes {
				parts = append(parts, fmt.Sprintf("%s (%.2f)", c.Category, c.ConfidenceScore))
			}
			label = strings.Join(parts, ", ")
		case len(d.Classes) > 0:
			label = fmt.Sprintf("%s (%.2f)", d.Classes[0].Category, d.Classes[0].ConfidenceScore)
		case len(d.Entities) > 0:
			var parts []string
			for _, e := range d.Entities {
				parts = append(parts, fmt.Sprintf("%s=%q", e.Category, e.Text))
			}
			label = strings.Join(parts, ", ")
		default:
			label = "(no label)"
		}
		fmt.Fprintf(w, "%-9s %s\t%s\n", d.Endpoint, label, d.Text)
	}
	fmt.Fprintf(w, "active endpoint: %s (%s)\n", classifyOrNone(out.State.Active), out.State.Reason)
}

func classifyOrNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// classifyEndpoints lists the project's source resource first, then its
// targets, each with its own credential (and the replica's project name
// when the target restores it under another name).
func classifyEndpoints(cfg *config.Config, pc *config.Project) ([]predict.Endpoint, error) {
	var eps []predict.Endpoint
	var cred azcore.TokenCredential
	add := func(name, as string) error {
		r, ok := cfg.Resource(name)
		if !ok {
			return &UsageError{Message: fmt.Sprintf("resource %q of project %s is not configured", name, pc.Name)}
		}
		ep := predict.Endpoint{Name: name, URL: r.Endpoint, Key: r.Key}
		if r.Entra {
			if cred == nil {
				c, err := azidentity.NewDefaultAzureCredential(nil)
				if err != nil {
					return fmt.Errorf("resource %s uses Entra ID: %w (sign in with az login, or use a managed identity)", name, err)
				}
				cred = c
			}
			ep.Key, ep.Cred = "", cred
		}
		if as != "" && as != pc.Name {
			ep.Projects = map[string]string{pc.Name: as}
		}
		eps = append(eps, ep)
		return nil
	}
	if err := add(pc.Source, ""); err != nil {
		return nil, err
	}
	for _, t := range pc.Targets {
		if err := add(t.Resource, t.As); err != nil {
			return nil, err
		}
	}
	return eps, nil
}

// detectKind reads the project's kind from the first resource whose
// authoring API answers, trying each quickly (no retries): a region that is
// down must not hold up the prediction.
func detectKind(ctx context.Context, eps []predict.Endpoint, project string) (langsync.ProjectKind, error) {
	opts := &authoring.ClientOptions{Retry: authoring.RetryOptions{MaxRetries: -1, TryTimeout: 5 * time.Second}, Logger: slog.New(slog.DiscardHandler)}
	var errs []error
	for _, ep := range eps {
		var c *authoring.Client
		var err error
		if ep.Cred != nil {
			c, err = authoring.NewClient(ep.URL, ep.Cred, opts)
		} else {
			c, err = authoring.NewKeyClient(ep.URL, ep.Key, opts)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ep.Name, err))
			continue
		}
		name := project
		if n, ok := ep.Projects[project]; ok {
			name = n
		}
		m, err := c.GetProject(ctx, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ep.Name, err))
			continue
		}
		return m.ProjectKind, nil
	}
	return "", fmt.Errorf("cannot tell the kind of project %s (give --kind single|multi|ner): %w", project, errors.Join(errs...))
}

// classifyBatches splits texts into requests within the service's limits.
func classifyBatches(texts []string) [][]string {
	var out [][]string
	var cur []string
	chars := 0
	for _, t := range texts {
		n := utf8.RuneCountInString(t)
		if len(cur) == predict.MaxDocuments || len(cur) > 0 && chars+n > predict.MaxChars {
			out = append(out, cur)
			cur, chars = nil, 0
		}
		cur = append(cur, t)
		chars += n
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// classifyMaxLine is the longest stdin line read: MaxChars characters of up
// to 4 UTF-8 bytes each.
const classifyMaxLine = predict.MaxChars * 4

// classifyReadLines reads one text per non-empty line. On a line longer than
// classifyMaxLine it returns the texts before it and bufio.ErrTooLong.
func classifyReadLines(r io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), classifyMaxLine)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			out = append(out, line)
		}
	}
	return out, sc.Err()
}
