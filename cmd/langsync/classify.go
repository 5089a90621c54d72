package main

import (
	"bufio"
	"context"
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
	// Conversation projects (predict.Document.TopIntent, Intents, Routed).
	"clu":           langsync.Conversation,
	"orchestration": langsync.Orchestration,
}

func runClassify(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "classify")
	cfgPath := fs.String("config", "", "config file (langsync.yaml)")
	project := fs.String("project", "", "project name (as configured)")
	deployment := fs.String("deployment", "", "deployment name (default: the project's only configured deployment)")
	kindFlag := fs.String("kind", "", "single, multi, ner, clu or orchestration (default: read from the project on the first resource that answers)")
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
	// fromProject: kind was read from the project itself, so a refusal by
	// the service cannot be a kind mismatch.
	fromProject := false
	switch {
	case *kindFlag == "":
		if kind, err = detectKind(ctx, endpoints, pc.Name, convVersions(cfg)); err != nil {
			// Go on: the prediction itself says best what is wrong (a region
			// down, a project never replicated), and it usually is a
			// single-label project.
			kind = langsync.SingleLabelClassification
			fmt.Fprintf(env.Stderr, "langsync classify: %v; assuming --kind single\n", err)
		} else {
			fromProject = true
		}
	case !ok:
		return usagef(hint, "--kind %q: want single, multi, ner, clu or orchestration", *kindFlag)
	}
	client, err := predict.New(endpoints, &predict.Options{Kind: kind, Logger: logger})
	if err != nil {
		return &UsageError{Message: err.Error(), Hint: "fix the resources in " + *cfgPath}
	}
	// Empty lists, not null, when a failure stops the first request.
	out := classifyOutput{Project: pc.Name, Deployment: *deployment, Kind: kind, Documents: []classifyDoc{}, Requests: []classifyRequest{}}
	if fromProject {
		out.ProjectKind = kind
	}
	first := 1
	// Many texts take a while: show how far it got on a terminal.
	prog := newCountLine(env.Stderr, "classify: texts", len(texts))
	defer prog.finish()
	for _, batch := range classifyBatches(texts) {
		prog.update(first - 1)
		res, err := client.Classify(ctx, pc.Name, *deployment, batch)
		if err != nil {
			err = classifyFailure(ctx, err, endpoints, convVersions(cfg), pc.Name, *kindFlag, kind, fromProject, &out, hint)
			// With --json the texts already answered, and why the rest
			// failed, still make the one document on stdout.
			out.State, out.Error = client.State(), err.Error()
			if *asJSON {
				if jerr := encodeJSON(env.Stdout, out); jerr != nil {
					return errors.Join(err, jerr)
				}
			}
			return err
		}
		out.Requests = append(out.Requests, classifyRequest{
			FirstText: first, LastText: first + len(batch) - 1,
			Endpoint: res.Endpoint, Failover: res.Failover, Reason: res.Reason, JobID: res.JobID, Attempts: res.Attempts,
		})
		first += len(batch)
		for _, d := range res.Documents {
			out.Documents = append(out.Documents, classifyDoc{Endpoint: res.Endpoint, Document: d})
		}
	}
	out.State = client.State()
	if *asJSON {
		return encodeJSON(env.Stdout, out)
	}
	printClassify(env.Stdout, &out)
	return nil
}

// classifyFailure turns a failed request into the command's error. When the
// service refused the request and the kind sent was not read from the
// project (--kind, or single assumed), it reads the project's kind and, on a
// mismatch, says so as a usage error naming the fix.
//
// The kind is checked only after a refusal, not up front: then a correct
// --kind costs no authoring GET and is not held up by a region whose
// authoring API is down (skipping that lookup is what --kind is for). The
// refusal's message is no contract, so it is not parsed: any refusal (a 400,
// or a job failed on a request error) triggers the check, and the project's
// own projectKind decides.
func classifyFailure(ctx context.Context, err error, eps []predict.Endpoint, convVersion func(resource string) string, project, flag string, kind langsync.ProjectKind, fromProject bool, out *classifyOutput, hint string) error {
	if re, ok := classifyRefusal(err); ok && !fromProject {
		// Ask the endpoint that refused first: its copy is the one that
		// did not match.
		order := make([]predict.Endpoint, 0, len(eps))
		for _, ep := range eps {
			if ep.Name == re.Endpoint {
				order = append([]predict.Endpoint{ep}, order...)
			} else {
				order = append(order, ep)
			}
		}
		actual, kerr := detectKind(ctx, order, project, convVersion)
		switch {
		case kerr != nil:
			err = fmt.Errorf("%w (could not read the project's kind to check it against %s: %v)", err, kind, kerr)
		case actual != kind:
			out.ProjectKind = actual
			return kindMismatch(project, flag, kind, actual)
		default:
			out.ProjectKind = actual
		}
	}
	if errors.Is(err, predict.ErrBadRequest) {
		return &UsageError{Message: err.Error(), Hint: hint}
	}
	return err
}

// classifyRefusal reports whether the service answered that the request is
// wrong: a 400, or a job that ended failed on a request error. Errors found
// before sending (no *ResponseError), outages (ErrUnavailable, which wraps
// each endpoint's error), credentials and missing projects are not.
func classifyRefusal(err error) (*predict.ResponseError, bool) {
	var re *predict.ResponseError
	if errors.Is(err, predict.ErrUnavailable) || !errors.As(err, &re) ||
		errors.Is(re, predict.ErrUnauthorized) || errors.Is(re, predict.ErrNotFound) {
		return nil, false
	}
	return re, re.StatusCode == 400 || re.JobStatus == "failed"
}

// kindNames describes project kinds for messages, with the article.
var kindNames = map[langsync.ProjectKind]string{
	langsync.SingleLabelClassification: "a single-label classification",
	langsync.MultiLabelClassification:  "a multi-label classification",
	langsync.EntityRecognition:         "a custom NER",
	langsync.Conversation:              "a conversational language understanding (CLU)",
	langsync.Orchestration:             "an orchestration workflow",
}

// kindMismatch is the usage error for a kind that does not match the
// project's (exit 2: the command line, not the service, is wrong).
func kindMismatch(project, flag string, sent, actual langsync.ProjectKind) error {
	what, known := kindNames[actual]
	if !known {
		return &UsageError{Message: fmt.Sprintf("project %s is a %s project, which classify does not support (it predicts single-label, multi-label, custom NER, CLU and orchestration projects)", project, actual)}
	}
	var want string
	for f, k := range classifyKinds {
		if k == actual {
			want = f
		}
	}
	if flag == "" {
		return &UsageError{Message: fmt.Sprintf("project %s is %s project (%s); its kind could not be read before sending, so --kind single was assumed and the service refused it: use --kind %s", project, what, actual, want)}
	}
	return &UsageError{Message: fmt.Sprintf("project %s is %s project (%s); --kind %s does not match: drop --kind or use --kind %s", project, what, actual, flag, want)}
}

type classifyOutput struct {
	Project    string `json:"project"`
	Deployment string `json:"deployment"`
	// Kind is the task kind sent; ProjectKind the project's own kind, when
	// it was read (always on a kind mismatch).
	Kind        langsync.ProjectKind `json:"kind"`
	ProjectKind langsync.ProjectKind `json:"projectKind,omitempty"`
	Documents   []classifyDoc        `json:"documents"`
	// Requests say which endpoint answered each request and why.
	Requests []classifyRequest `json:"requests"`
	// State is the client's state after the last request; which endpoint
	// it calls active can differ from who answered (a primary that failed
	// once is still active), hence Requests.
	State predict.State `json:"state"`
	// Error is why the command failed, after some texts may have been
	// answered; the same message goes to stderr.
	Error string `json:"error,omitempty"`
}

// classifyRequest is one prediction request (one batch of texts).
type classifyRequest struct {
	// FirstText and LastText are the 1-based positions of its texts.
	FirstText int `json:"firstText"`
	LastText  int `json:"lastText"`
	// Endpoint answered it, Reason says why (predict.Result.Reason).
	Endpoint string `json:"endpoint"`
	Failover bool   `json:"failover"`
	Reason   string `json:"reason"`
	JobID    string `json:"jobId,omitempty"`
	// Attempts are the endpoints that failed before the answer.
	Attempts []predict.Attempt `json:"attempts,omitempty"`
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
		case d.TopIntent != "":
			label = conversationLabel(d.Document)
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
	printAnsweredBy(w, out.Requests)
}

// printAnsweredBy prints which endpoint answered and why: one line when
// every request was answered alike, else a summary line and one line per
// run of requests answered by the same endpoint for the same reason.
func printAnsweredBy(w io.Writer, reqs []classifyRequest) {
	type run struct {
		first, last      int
		endpoint, reason string
	}
	var byReason, byEndpoint []run
	for _, r := range reqs {
		if n := len(byReason); n > 0 && byReason[n-1].endpoint == r.Endpoint && byReason[n-1].reason == r.Reason {
			byReason[n-1].last = r.LastText
		} else {
			byReason = append(byReason, run{r.FirstText, r.LastText, r.Endpoint, r.Reason})
		}
		if n := len(byEndpoint); n > 0 && byEndpoint[n-1].endpoint == r.Endpoint {
			byEndpoint[n-1].last = r.LastText
		} else {
			byEndpoint = append(byEndpoint, run{r.FirstText, r.LastText, r.Endpoint, ""})
		}
	}
	span := func(r run) string {
		if r.first == r.last {
			return fmt.Sprintf("text %d", r.first)
		}
		return fmt.Sprintf("texts %d-%d", r.first, r.last)
	}
	switch len(byReason) {
	case 0:
		return
	case 1:
		fmt.Fprintf(w, "answered by: %s (%s)\n", byReason[0].endpoint, byReason[0].reason)
		return
	}
	var parts []string
	for _, r := range byEndpoint {
		parts = append(parts, r.endpoint+" for "+span(r))
	}
	fmt.Fprintf(w, "answered by: %s\n", strings.Join(parts, ", "))
	for _, r := range byReason {
		fmt.Fprintf(w, "  %s: %s (%s)\n", span(r), r.endpoint, r.reason)
	}
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

// convVersions returns each configured resource's conversations
// api-version (resources[].conversationsApiVersion).
func convVersions(cfg *config.Config) func(resource string) string {
	return func(name string) string {
		r, _ := cfg.Resource(name)
		return r.ConversationsAPIVersion
	}
}

// detectKind reads the project's kind from the first resource whose
// authoring API answers, trying each quickly (no retries): a region that is
// down must not hold up the prediction. Conversation projects are read at
// each resource's configured api-version (convVersion).
func detectKind(ctx context.Context, eps []predict.Endpoint, project string, convVersion func(resource string) string) (langsync.ProjectKind, error) {
	var errs []error
	for _, ep := range eps {
		opts := &authoring.ClientOptions{Retry: authoring.RetryOptions{MaxRetries: -1, TryTimeout: 5 * time.Second}, Logger: slog.New(slog.DiscardHandler),
			ConversationsAPIVersion: convVersion(ep.Name), ConversationsAPIVersionSetting: "resources." + ep.Name + ".conversationsApiVersion"}
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
		if errors.Is(err, authoring.ErrNotFound) {
			// Conversation projects live under their own API.
			m, err = c.Conversations().GetProject(ctx, name)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ep.Name, err))
			continue
		}
		return m.ProjectKind, nil
	}
	return "", fmt.Errorf("cannot tell the kind of project %s (give --kind single|multi|ner|clu|orchestration): %w", project, errors.Join(errs...))
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

// conversationLabel prints a CLU or orchestration prediction: the top
// intent with its score, the entities, and for orchestration what the top
// intent routed to.
func conversationLabel(d predict.Document) string {
	var sb strings.Builder
	score := func(intent string, cs []predict.Class) {
		sb.WriteString(intent)
		for _, c := range cs {
			if c.Category == intent {
				fmt.Fprintf(&sb, " (%.2f)", c.ConfidenceScore)
				break
			}
		}
	}
	entities := func(es []predict.Entity) {
		for _, e := range es {
			fmt.Fprintf(&sb, " %s=%q", e.Category, e.Text)
		}
	}
	score(d.TopIntent, d.Intents)
	entities(d.Entities)
	if r := d.Routed; r != nil {
		fmt.Fprintf(&sb, " -> %s", r.TargetKind)
		if r.TopIntent != "" {
			sb.WriteString(": ")
			score(r.TopIntent, r.Intents)
			entities(r.Entities)
		}
	}
	return sb.String()
}
