package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/langsync/langsync/shared/authoring"
	"github.com/langsync/langsync/shared/config"
	"github.com/langsync/langsync/shared/langsync"
)

// projectSub is one `langsync project <sub>` command.
type projectSub struct {
	run func(ctx context.Context, pc *projectCtx) error
	// flags adds the subcommand's own flags.
	flags func(fs *flag.FlagSet, o *projectOpts)
	// args is the number of positional arguments.
	args int
}

// projectOpts are the parsed flags of a project subcommand.
type projectOpts struct {
	endpoint, key, apiVersion string
	convVersion               string
	entra, json, noWait       bool
	model, out                string
	configVersion, evalKind   string
	trainSplit                int
}

// projectCtx is what a subcommand runs with.
type projectCtx struct {
	env    *Env
	opts   projectOpts
	args   []string
	client *authoring.Client
}

func projectSubs() map[string]projectSub {
	return map[string]projectSub{
		"list": {
			run: projectList,
		},
		"show": {
			run: projectShow, args: 1,
		},
		"export": {
			run: projectExport, args: 1,
			flags: func(fs *flag.FlagSet, o *projectOpts) {
				fs.StringVar(&o.model, "model", "", "export the data the trained model `LABEL` was trained on (api-version 2023-04-01+)")
				fs.StringVar(&o.out, "o", "", "write the export to `FILE` (default stdout)")
			},
		},
		"import": {
			run: projectImport, args: 2,
		},
		"train": {
			run: projectTrain, args: 1,
			flags: func(fs *flag.FlagSet, o *projectOpts) {
				fs.StringVar(&o.model, "model", "", "the model `LABEL` to train (required)")
				fs.StringVar(&o.configVersion, "config-version", "latest", "training config `version`")
				fs.StringVar(&o.evalKind, "eval", "", "evaluation `kind`: percentage or manual (default: the service's, 80/20)")
				fs.IntVar(&o.trainSplit, "split", 0, "training split `percent` for --eval percentage (the rest is for testing)")
			},
		},
		"deploy": {
			run: projectDeploy, args: 2,
			flags: func(fs *flag.FlagSet, o *projectOpts) {
				fs.StringVar(&o.model, "model", "", "the trained model `LABEL` to deploy (required)")
			},
		},
		"delete": {
			run: projectDelete, args: 1,
		},
	}
}

func projectCommand() Command {
	return Command{
		Name:    "project",
		Summary: "drive one Language resource by hand (list, show, export, import, train, deploy, delete)",
		Run: func(ctx context.Context, env *Env, args []string) error {
			subs := projectSubs()
			if len(args) == 0 || isHelp(args[0]) {
				printPage(env.Stdout, "project", nil)
				if len(args) == 0 {
					return usagef("langsync project --help", "which subcommand? (%s)", strings.Join(manual["project"].Subs, ", "))
				}
				return nil
			}
			sub, ok := subs[args[0]]
			if !ok {
				return usagef("langsync project --help", "unknown subcommand %q", args[0])
			}
			return runProjectSub(ctx, env, args[0], sub, args[1:])
		},
	}
}

func runProjectSub(ctx context.Context, env *Env, name string, sub projectSub, args []string) error {
	fs := newFlagSet(env, "project "+name)
	var o projectOpts
	fs.StringVar(&o.endpoint, "endpoint", "", "the resource `URL`, https://<resource>.cognitiveservices.azure.com (default $LANGSYNC_ENDPOINT)")
	fs.StringVar(&o.key, "key", "", "the resource `KEY` (default $LANGSYNC_KEY)")
	fs.BoolVar(&o.entra, "entra", false, "authenticate with Microsoft Entra ID (DefaultAzureCredential) instead of a key")
	fs.StringVar(&o.apiVersion, "api-version", authoring.DefaultAPIVersion, "authoring API `version`: 2023-04-01 or 2022-05-01")
	fs.StringVar(&o.convVersion, "conversations-api-version", "", "conversations authoring API `version` (CLU and orchestration projects): 2023-04-01 or 2025-11-01 (default $LANGSYNC_CONVERSATIONS_API_VERSION, else 2023-04-01)")
	fs.BoolVar(&o.json, "json", false, "print JSON for scripts")
	if name != "list" && name != "show" {
		fs.BoolVar(&o.noWait, "no-wait", false, "start the job, print its handle and return")
	}
	if sub.flags != nil {
		sub.flags(fs, &o)
	}
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	hint := "langsync project " + name + " --help"
	if len(pos) != sub.args {
		return usagef(hint, "want %d argument(s), got %d: %s", sub.args, len(pos), strings.Join(pos, " "))
	}
	for i, a := range pos {
		var err error
		switch {
		case i == 0:
			err = authoring.ValidateProjectName(a)
		case name == "deploy":
			err = authoring.ValidateDeploymentName(a)
		}
		if err != nil {
			return usagef(hint, "%v", err)
		}
	}
	if o.model != "" {
		if err := authoring.ValidateModelLabel(o.model); err != nil {
			return usagef(hint, "--model: %v", err)
		}
	}
	c, err := projectClient(env, &o, hint)
	if err != nil {
		return err
	}
	pc := &projectCtx{env: env, opts: o, args: pos, client: c}
	if name == "import" {
		// A CLU or orchestration export goes to the conversations API.
		if kind, err := exportFileKind(pos[1]); err == nil && kind.Conversational() {
			pc.client = c.Conversations()
		}
	}
	err = sub.run(ctx, pc)
	if errors.Is(err, authoring.ErrNotFound) && len(pos) > 0 && !pc.client.IsConversations() {
		// Not a text project: a conversation project of that name is
		// driven through the conversations API.
		if _, gerr := c.Conversations().GetProject(ctx, pos[0]); gerr == nil {
			pc.client = c.Conversations()
			err = sub.run(ctx, pc)
		}
	}
	return explain(err)
}

// projectClient builds the client from flags and environment.
func projectClient(env *Env, o *projectOpts, hint string) (*authoring.Client, error) {
	if o.endpoint == "" {
		o.endpoint = env.Getenv("LANGSYNC_ENDPOINT")
	}
	if o.key == "" {
		o.key = env.Getenv("LANGSYNC_KEY")
	}
	if o.endpoint == "" {
		return nil, usagef(hint, "no endpoint: give --endpoint https://<resource>.cognitiveservices.azure.com or set LANGSYNC_ENDPOINT")
	}
	setting := "--conversations-api-version"
	if o.convVersion == "" {
		if v := env.Getenv(config.EnvConversationsAPIVersion); v != "" {
			o.convVersion, setting = v, config.EnvConversationsAPIVersion+" (or --conversations-api-version)"
		} else {
			o.convVersion = config.DefaultConversationsAPIVersion
		}
	}
	if !slices.Contains(config.ConversationsAPIVersions(), o.convVersion) {
		return nil, usagef(hint, "%s %q: want %s (the default, served by every region) or %s (the newer GA version)",
			setting, o.convVersion, config.ConversationsAPIVersion20230401, config.ConversationsAPIVersion20251101)
	}
	opts := &authoring.ClientOptions{
		APIVersion:                     o.apiVersion,
		ConversationsAPIVersion:        o.convVersion,
		ConversationsAPIVersionSetting: setting,
		// The CLI reports through its own messages; request logs stay off.
		Logger: slog.New(slog.DiscardHandler),
		Budget: env.budget,
	}
	var c *authoring.Client
	var err error
	switch {
	case o.entra:
		cred, cerr := azidentity.NewDefaultAzureCredential(nil)
		if cerr != nil {
			return nil, fmt.Errorf("setting up Microsoft Entra ID: %w", cerr)
		}
		c, err = authoring.NewClient(o.endpoint, cred, opts)
	case o.key == "":
		return nil, usagef(hint, "no key: give --key or set LANGSYNC_KEY (the resource's Keys and Endpoint page), or use --entra")
	default:
		c, err = authoring.NewKeyClient(o.endpoint, langsync.Secret(o.key), opts)
	}
	if err != nil {
		return nil, &UsageError{Message: err.Error(), Hint: hint}
	}
	return c, nil
}

// explain adds a "Try:" line to the errors a person can act on.
func explain(err error) error {
	var hint string
	switch {
	case err == nil:
		return nil
	case errors.Is(err, authoring.ErrUnauthorized):
		hint = "check that --key (or LANGSYNC_KEY) is a key of the resource at --endpoint"
	case errors.Is(err, authoring.ErrForbidden):
		hint = "the identity needs a Cognitive Services Language role on the resource"
	case errors.Is(err, authoring.ErrNotFound):
		hint = "check the names with 'langsync project list' and 'langsync project show PROJECT'"
	case errors.Is(err, authoring.ErrConflict):
		hint = "another job is running on the project: wait for it, then run the command again"
	case errors.Is(err, authoring.ErrThrottled):
		hint = "the resource's rate limit is exhausted: wait a minute and run the command again"
	case errors.Is(err, authoring.ErrMaybeStarted):
		hint = "run 'langsync project show PROJECT' to see whether the job started before running it again"
	case errors.Is(err, authoring.ErrInvalidName):
		return &UsageError{Message: err.Error()}
	default:
		return err
	}
	return fmt.Errorf("%w\nTry: %s", err, hint)
}

// projectList lists the resource's text projects and its conversation
// projects (CLU and orchestration, from the conversations API) in one
// table; the KIND column tells them apart.
func projectList(ctx context.Context, pc *projectCtx) error {
	ps, err := pc.client.ListProjects(ctx)
	if err != nil {
		return err
	}
	cs, err := pc.client.Conversations().ListProjects(ctx)
	if err != nil {
		return fmt.Errorf("listing conversation projects: %w", err)
	}
	ps = append(ps, cs...)
	if pc.opts.json {
		if ps == nil {
			ps = []authoring.ProjectMetadata{}
		}
		return writeJSONOut(pc.env.Stdout, ps)
	}
	if len(ps) == 0 {
		fmt.Fprintln(pc.env.Stdout, "no projects")
		return nil
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].ProjectName < ps[j].ProjectName })
	tw := tabwriter.NewWriter(pc.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROJECT\tKIND\tLANGUAGE\tMODIFIED\tTRAINED\tDEPLOYED")
	for _, p := range ps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.ProjectName, p.ProjectKind, p.Language,
			fmtTime(p.LastModifiedDateTime), fmtTime(p.LastTrainedDateTime), fmtTime(p.LastDeployedDateTime))
	}
	return tw.Flush()
}

func projectShow(ctx context.Context, pc *projectCtx) error {
	name := pc.args[0]
	p, err := pc.client.GetProject(ctx, name)
	if err != nil {
		return err
	}
	models, err := pc.client.ListModels(ctx, name)
	if err != nil {
		return err
	}
	deps, err := pc.client.ListDeployments(ctx, name)
	if err != nil {
		return err
	}
	if pc.opts.json {
		if models == nil {
			models = []authoring.TrainedModel{}
		}
		if deps == nil {
			deps = []authoring.Deployment{}
		}
		return writeJSONOut(pc.env.Stdout, map[string]any{"project": p, "models": models, "deployments": deps})
	}
	w := pc.env.Stdout
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Project:\t%s\n", p.ProjectName)
	fmt.Fprintf(tw, "Kind:\t%s\n", p.ProjectKind)
	fmt.Fprintf(tw, "Language:\t%s (multilingual %v)\n", p.Language, p.Multilingual)
	fmt.Fprintf(tw, "Storage container:\t%s\n", p.StorageInputContainerName)
	if p.Description != "" {
		fmt.Fprintf(tw, "Description:\t%s\n", p.Description)
	}
	fmt.Fprintf(tw, "Created:\t%s\n", fmtTime(p.CreatedDateTime))
	fmt.Fprintf(tw, "Modified:\t%s\n", fmtTime(p.LastModifiedDateTime))
	fmt.Fprintf(tw, "Trained:\t%s\n", fmtTime(p.LastTrainedDateTime))
	fmt.Fprintf(tw, "Deployed:\t%s\n", fmtTime(p.LastDeployedDateTime))
	if err := tw.Flush(); err != nil {
		return err
	}
	labels := map[string]string{}
	fmt.Fprintf(w, "\nModels (%d):\n", len(models))
	if len(models) > 0 {
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  LABEL\tTRAINED\tCONFIG\tEXPIRES\tMODEL ID")
		for _, m := range models {
			labels[m.ModelID] = m.Label
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", m.Label, fmtTime(m.LastTrainedDateTime), m.ModelTrainingConfigVersion, m.ModelExpirationDate, m.ModelID)
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "\nDeployments (%d):\n", len(deps))
	if len(deps) > 0 {
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  DEPLOYMENT\tMODEL\tDEPLOYED\tEXPIRES")
		for _, d := range deps {
			label := labels[d.ModelID]
			if label == "" {
				label = d.ModelID
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", d.DeploymentName, label, fmtTime(d.LastDeployedDateTime), d.DeploymentExpirationDate)
		}
		tw.Flush()
	}
	return nil
}

func projectExport(ctx context.Context, pc *projectCtx) error {
	name := pc.args[0]
	var eo *authoring.ExportOptions
	if pc.opts.model != "" {
		eo = &authoring.ExportOptions{TrainedModelLabel: pc.opts.model}
	}
	job, err := pc.client.BeginExport(ctx, name, eo)
	if err != nil {
		return err
	}
	if pc.opts.noWait {
		return writeJSONOut(pc.env.Stdout, job)
	}
	st, err := waitJob(ctx, pc, job)
	if err != nil {
		return err
	}
	if st.ResultURL == "" {
		return fmt.Errorf("export job %s succeeded without a resultUrl: run the export again", st.JobID)
	}
	rc, err := pc.client.OpenExportResult(ctx, st.ResultURL)
	if err != nil {
		return err
	}
	defer rc.Close()
	if pc.opts.out == "" || pc.opts.out == "-" {
		if _, err := io.Copy(pc.env.Stdout, rc); err != nil {
			return fmt.Errorf("writing the export: %w", err)
		}
		return nil
	}
	n, err := writeFileAtomic(pc.opts.out, rc)
	if err != nil {
		return err
	}
	if pc.opts.json {
		return writeJSONOut(pc.env.Stdout, map[string]any{"project": name, "file": pc.opts.out, "bytes": n, "job": st})
	}
	fmt.Fprintf(pc.env.Stdout, "exported %s to %s (%d bytes)\n", name, pc.opts.out, n)
	return nil
}

// writeFileAtomic writes r to path through a temporary file in the same
// directory, so that an interrupted export never leaves a partial file.
func writeFileAtomic(path string, r io.Reader) (int64, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return 0, fmt.Errorf("writing the export: %w", err)
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return 0, fmt.Errorf("writing the export to %s: %w", path, err)
	}
	return n, nil
}

func projectImport(ctx context.Context, pc *projectCtx) error {
	name, file := pc.args[0], pc.args[1]
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("reading the export: %w", err)
	}
	defer f.Close()
	// The export names its project; importing "into PROJECT" means under
	// that name, so the copy is renamed first (the service would refuse a
	// body whose projectName differs from the URL).
	var body bytes.Buffer
	if err := authoring.RenameExport(f, &body, name); err != nil {
		return fmt.Errorf("reading the export %s: %w", file, err)
	}
	job, err := pc.client.BeginImport(ctx, name, bytes.NewReader(body.Bytes()))
	if err != nil {
		return err
	}
	return finishJob(ctx, pc, job, fmt.Sprintf("imported %s into %s", file, name))
}

func projectTrain(ctx context.Context, pc *projectCtx) error {
	name := pc.args[0]
	hint := "langsync project train --help"
	if pc.opts.model == "" {
		return usagef(hint, "--model LABEL is required")
	}
	to := authoring.TrainOptions{ModelLabel: pc.opts.model, TrainingConfigVersion: pc.opts.configVersion}
	switch pc.opts.evalKind {
	case "":
		if pc.opts.trainSplit != 0 {
			to.EvaluationOptions = &authoring.EvaluationOptions{Kind: authoring.EvaluationPercentage}
		}
	case authoring.EvaluationPercentage, authoring.EvaluationManual:
		to.EvaluationOptions = &authoring.EvaluationOptions{Kind: pc.opts.evalKind}
	default:
		return usagef(hint, "--eval %q: want percentage or manual", pc.opts.evalKind)
	}
	if s := pc.opts.trainSplit; s != 0 {
		if s < 1 || s > 99 || to.EvaluationOptions.Kind != authoring.EvaluationPercentage {
			return usagef(hint, "--split %d: want 1..99 with --eval percentage", s)
		}
		to.EvaluationOptions.TrainingSplitPercentage = s
		to.EvaluationOptions.TestingSplitPercentage = 100 - s
	}
	job, err := pc.client.BeginTrain(ctx, name, to)
	if err != nil {
		return err
	}
	return finishJob(ctx, pc, job, fmt.Sprintf("trained model %s of %s", pc.opts.model, name))
}

func projectDeploy(ctx context.Context, pc *projectCtx) error {
	name, dep := pc.args[0], pc.args[1]
	if pc.opts.model == "" {
		return usagef("langsync project deploy --help", "--model LABEL is required")
	}
	job, err := pc.client.BeginDeploy(ctx, name, dep, pc.opts.model)
	if err != nil {
		return err
	}
	return finishJob(ctx, pc, job, fmt.Sprintf("deployed model %s of %s as %s", pc.opts.model, name, dep))
}

func projectDelete(ctx context.Context, pc *projectCtx) error {
	name := pc.args[0]
	job, err := pc.client.BeginDeleteProject(ctx, name)
	if err != nil {
		return err
	}
	return finishJob(ctx, pc, job, "deleted "+name)
}

// finishJob waits for a job (unless --no-wait) and reports the outcome.
func finishJob(ctx context.Context, pc *projectCtx, job langsync.Job, done string) error {
	if pc.opts.noWait {
		return writeJSONOut(pc.env.Stdout, job)
	}
	st, err := waitJob(ctx, pc, job)
	if err != nil {
		return err
	}
	if pc.opts.json {
		return writeJSONOut(pc.env.Stdout, st)
	}
	fmt.Fprintln(pc.env.Stdout, done)
	return nil
}

// waitJob waits with a progress line on stderr.
func waitJob(ctx context.Context, pc *projectCtx, job langsync.Job) (*authoring.JobState, error) {
	p := newProgress(pc.env.Stderr, job.Kind, job.Started)
	st, err := pc.client.Wait(ctx, job, p.update)
	p.finish()
	return st, err
}

func writeJSONOut(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// exportFileKind reads metadata.projectKind of an exported project file.
func exportFileKind(file string) (langsync.ProjectKind, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var doc struct {
		Metadata struct {
			ProjectKind langsync.ProjectKind `json:"projectKind"`
		} `json:"metadata"`
	}
	err = json.NewDecoder(f).Decode(&doc)
	return doc.Metadata.ProjectKind, err
}
