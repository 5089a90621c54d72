package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/langsync/langsync/shared/langsync"
	"go.yaml.in/yaml/v3"
)

// Defaults applied when the file leaves a setting out.
const (
	DefaultKeepLast     = 30
	DefaultKeepDays     = 90
	DefaultSchedule     = "0 0 2 * * *"
	DefaultExpiryWindow = 14 * 24 * time.Hour
	// DefaultExpiryWarning is the expiry watch's window: status warns
	// about what expires within it.
	DefaultExpiryWarning = 30 * 24 * time.Hour
	// DefaultJobRetries is how many times a job that failed on the
	// service's side is sent again (each training retry is billed).
	DefaultJobRetries = 2
	// MaxJobRetries caps jobRetries: more is almost surely a typo, and
	// every training retry is billed.
	MaxJobRetries = 10
	// DefaultUnreachableBudget bounds how long a step keeps retrying a
	// resource it cannot connect to.
	DefaultUnreachableBudget = 2 * time.Minute
)

// Auth values for Resource.Auth.
const (
	// AuthKey sends the resource's subscription key (the default).
	AuthKey = "key"
	// AuthEntra uses Microsoft Entra ID (DefaultAzureCredential: managed
	// identity in Azure, az login on a workstation).
	AuthEntra = "entra"
)

// Config is a validated langsync configuration.
type Config struct {
	// Resources by their config name ("primary", "secondary").
	Resources map[string]*Resource `yaml:"resources" json:"resources"`
	// Projects to replicate.
	Projects []Project `yaml:"projects" json:"projects"`
	// Store locates the backup and state containers: a directory, a Blob
	// connection string or an account URL. It may hold an account key.
	Store langsync.Secret `yaml:"store" json:"-"`
	// Containers names the backup and state containers.
	Containers Containers `yaml:"containers" json:"containers"`
	// Retention is the backup retention policy.
	Retention Retention `yaml:"retention" json:"retention"`
	// Schedule is the daily sync's NCRONTAB expression (6 fields, seconds first).
	Schedule string `yaml:"schedule" json:"schedule"`
	// Probes are texts classified on both sides during verify; optional.
	Probes []string `yaml:"probes" json:"probes,omitempty"`
	// ExpiryWindow: a target deployment whose expiration date falls within
	// this window is replicated again (retrained) by sync. YAML accepts Go
	// durations plus a "d" suffix for days ("14d", "36h").
	ExpiryWindow Duration `yaml:"expiryWindow" json:"expiryWindow"`
	// ExpiryWarning: status warns about a deployed model, deployment or
	// training config version (source or target) that expires within
	// this window, and renewExpiring acts on it (default 30d).
	ExpiryWarning Duration `yaml:"expiryWarning" json:"expiryWarning"`
	// RenewExpiring lets sync retrain a target whose model expires within
	// expiryWarning, on a version that outlasts it. Off by default:
	// training is billed.
	RenewExpiring bool `yaml:"renewExpiring" json:"renewExpiring,omitempty"`
	// Alerts are the thresholds status, the status page, the metrics and
	// the langsync.pair.alert event flag (docs/observability.md#alerts).
	Alerts Alerts `yaml:"alerts" json:"alerts"`
	// Heartbeat is the dead-man's switch pinged after each scheduled sync.
	Heartbeat Heartbeat `yaml:"heartbeat" json:"heartbeat"`
	// ServiceBus is the Service Bus connection (connection string or
	// namespace FQDN); from the file's serviceBus key or LANGSYNC_SERVICEBUS.
	ServiceBus langsync.Secret `yaml:"serviceBus" json:"-"`
	// JobRetries is how many times a job that ended failed with a
	// service-side error (InternalServerError, ServiceUnavailable, Timeout)
	// is replaced by a new one; errors caused by the data fail at once.
	// 0 disables the retries. Each training retry is billed as a training.
	JobRetries int `yaml:"jobRetries" json:"jobRetries"`
	// UnreachableBudget bounds how long one step keeps retrying a resource
	// it cannot connect to (refused, DNS, TLS) before that target (or, for
	// the source, the run) fails. Throttling does not count against it.
	UnreachableBudget Duration `yaml:"unreachableBudget" json:"unreachableBudget"`

	// unset maps a field path to the ${VARS} it referenced that were unset,
	// so that "key is empty" can say which variable to set.
	unset map[string][]string
}

// Alerts are the alert thresholds.
type Alerts struct {
	// MaxLag: a pair whose target has lacked the source's newest change
	// for longer than this is alerting (0: no lag alert; default 26h, a
	// daily schedule plus slack).
	MaxLag Duration `yaml:"maxLag" json:"maxLag"`
	// ExpiryWarning is the global expiry watch window (see
	// Config.ExpiryWarning, its older spelling); projects[].expiryWarning
	// overrides it per project.
	ExpiryWarning Duration `yaml:"expiryWarning" json:"expiryWarning,omitzero"`
}

// Heartbeat is the dead-man's switch (the healthchecks.io convention):
// URL is requested after a scheduled sync that leaves every pair in sync,
// URL + "/fail" otherwise. The URL usually holds a secret token.
type Heartbeat struct {
	URL langsync.Secret `yaml:"url" json:"-"`
}

// DefaultMaxLag is alerts.maxLag's default: a daily schedule plus two
// hours of slack.
const DefaultMaxLag = 26 * time.Hour

// ExpiryWarningFor is the expiry watch window of a project: its own
// expiryWarning, else alerts.expiryWarning, else expiryWarning (default 30d).
func (c *Config) ExpiryWarningFor(source, project string) time.Duration {
	for _, p := range c.Projects {
		if p.Source == source && p.Name == project && p.ExpiryWarning > 0 {
			return time.Duration(p.ExpiryWarning)
		}
	}
	if c.Alerts.ExpiryWarning > 0 {
		return time.Duration(c.Alerts.ExpiryWarning)
	}
	return time.Duration(c.ExpiryWarning)
}

// Resource is one Language resource as configured.
type Resource struct {
	// Endpoint is https://<name>.cognitiveservices.azure.com. Plain http is
	// accepted for loopback hosts only (emulators).
	Endpoint string `yaml:"endpoint" json:"endpoint"`
	// Key is the subscription key; empty with Auth "entra".
	Key langsync.Secret `yaml:"key" json:"-"`
	// Auth is "key" (default) or "entra".
	Auth string `yaml:"auth" json:"auth,omitempty"`
	// Storage is the linked storage holding the labelled documents: a Blob
	// connection string, an account URL, or a directory laid out as
	// <dir>/<container>/<location>. Optional.
	Storage langsync.Secret `yaml:"storage" json:"-"`
	// ConversationsAPIVersion is the api-version langsync speaks to the
	// resource's conversations authoring API (CLU and orchestration
	// projects): 2023-04-01 (default) or 2025-11-01. Text projects always
	// use 2023-04-01 (their newest GA version).
	ConversationsAPIVersion string `yaml:"conversationsApiVersion" json:"conversationsApiVersion,omitempty"`
}

// Conversations authoring api-versions resources[].conversationsApiVersion
// accepts. The default is the older GA version: every region serves it,
// and nothing langsync replicates needs the newer one (its exports have the
// same projectFileVersion, so backups restore across the two).
const (
	ConversationsAPIVersion20230401 = "2023-04-01"
	ConversationsAPIVersion20251101 = "2025-11-01"
	DefaultConversationsAPIVersion  = ConversationsAPIVersion20230401
)

// ConversationsAPIVersions lists the accepted values, default first.
func ConversationsAPIVersions() []string {
	return []string{ConversationsAPIVersion20230401, ConversationsAPIVersion20251101}
}

// Project is one source project and where it is replicated.
type Project struct {
	// Name of the project on the source.
	Name string `yaml:"name" json:"name"`
	// Source is the resource name the project lives on.
	Source string `yaml:"source" json:"source"`
	// Targets are the resources it is replicated to.
	Targets []Target `yaml:"targets" json:"targets"`
	// Deployments to mirror; empty means every deployment of the source.
	Deployments []string `yaml:"deployments" json:"deployments,omitempty"`
	// TrainingConfigVersion, when set, is the training config version every
	// target of the project is trained with ("latest" or a dated version
	// such as 2022-05-01), instead of the source model's.
	TrainingConfigVersion string `yaml:"trainingConfigVersion" json:"trainingConfigVersion,omitempty"`
	// ExpiryWarning overrides alerts.expiryWarning for this project
	// (0: the global window).
	ExpiryWarning Duration `yaml:"expiryWarning" json:"expiryWarning,omitzero"`
	// Kind, when set, is the project kind the source must have (the
	// service's projectKind, any case: CustomSingleLabelClassification,
	// CustomMultiLabelClassification, CustomEntityRecognition, Conversation,
	// Orchestration). A replication fails, naming both kinds, when the
	// source is of another kind; empty means the kind is detected.
	Kind string `yaml:"kind" json:"kind,omitempty"`
}

// Target is one replica of a project. In YAML it is either a resource name
// ("secondary") or a mapping {resource: secondary, as: TicketsDR} that gives
// the replica another project name.
type Target struct {
	Resource string `yaml:"resource" json:"resource"`
	// As is the project name on the target; empty means the source's name.
	As string `yaml:"as" json:"as,omitempty"`
}

// UnmarshalYAML accepts a plain resource name or a {resource, as} mapping.
func (t *Target) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		t.Resource, t.As = n.Value, ""
		return nil
	}
	type plain Target
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*t = Target(p)
	return nil
}

// Containers names the Blob containers langsync uses in the store.
type Containers struct {
	// Backups holds the backup archives; it may be write-once (WORM).
	Backups string `yaml:"backups" json:"backups"`
	// State holds run and pair state, locks and the restore drop prefix.
	State string `yaml:"state" json:"state"`
}

// Retention is the backup retention policy, per project and model: a
// backup is pruned only when it is beyond both the newest KeepLast
// verified backups and KeepDays old. Only verified backups count towards
// KeepLast, and the newest verified backup is never pruned; quarantined
// backups are kept for the operator. Zero in either disables that limit's
// protection; both zero keeps everything. Negative values are refused.
type Retention struct {
	KeepLast int `yaml:"keepLast" json:"keepLast"`
	KeepDays int `yaml:"keepDays" json:"keepDays"`
}

// Duration is a time.Duration that reads "14d" as well as Go durations.
type Duration time.Duration

// UnmarshalYAML parses a Go duration or a whole number of days ("14d").
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalText prints the duration in days when it is whole days.
func (d Duration) MarshalText() ([]byte, error) {
	v := time.Duration(d)
	if v != 0 && v%(24*time.Hour) == 0 {
		return []byte(fmt.Sprintf("%dd", v/(24*time.Hour))), nil
	}
	return []byte(v.String()), nil
}

// ParseDuration parses a Go duration ("36h") or days ("14d").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err != nil || fmt.Sprint(n) != days {
			return 0, fmt.Errorf("bad duration %q (want e.g. 14d or 36h)", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q (want e.g. 14d or 36h)", s)
	}
	return v, nil
}

// Default returns a Config holding only the defaults.
func Default() *Config {
	return &Config{
		Resources:         map[string]*Resource{},
		Containers:        Containers{Backups: langsync.DefaultBackupContainer, State: langsync.DefaultStateContainer},
		Retention:         Retention{KeepLast: DefaultKeepLast, KeepDays: DefaultKeepDays},
		Schedule:          DefaultSchedule,
		ExpiryWindow:      Duration(DefaultExpiryWindow),
		ExpiryWarning:     Duration(DefaultExpiryWarning),
		Alerts:            Alerts{MaxLag: Duration(DefaultMaxLag)},
		JobRetries:        DefaultJobRetries,
		UnreachableBudget: Duration(DefaultUnreachableBudget),
	}
}

// Load reads and validates the config file at path. getenv resolves ${ENV}
// references (os.Getenv in production; nil means os.Getenv).
func Load(path string, getenv func(string) string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: reading %s: %w", path, err)
	}
	cfg, err := Parse(data, getenv)
	if err != nil {
		return nil, &loadError{path: path, err: err}
	}
	return cfg, nil
}

// loadError puts the file name after Parse's "config: " prefix instead of
// in front of it ("config: cfg/x.yaml: not valid YAML", not "config:
// cfg/x.yaml: config: not valid YAML"); errors.Is/As still see Parse's error.
type loadError struct {
	path string
	err  error
}

func (e *loadError) Error() string {
	return "config: " + e.path + ": " + strings.TrimPrefix(e.err.Error(), "config: ")
}

func (e *loadError) Unwrap() error { return e.err }

// flowVarRE finds an unquoted ${VAR} inside a flow collection on one line.
var flowVarRE = regexp.MustCompile(`[{\[][^\n]*[:,\[]\s*\$\{`)

// Parse parses YAML (or JSON, which is YAML) config text, expands ${ENV}
// references in string values, applies defaults and validates. The error
// lists every problem (errors.Join of *FieldError).
func Parse(data []byte, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		hint := ""
		if flowVarRE.Match(data) {
			hint = ` (a ${VAR} inside { } or [ ] must be quoted: key: "${VAR}")`
		}
		return nil, fmt.Errorf("config: not valid YAML or JSON%s: %w", hint, yamlErrorLine(data, err))
	}
	if doc.Kind == 0 {
		return nil, errors.New("config: empty config (want resources, projects and store)")
	}
	unset := map[string][]string{}
	expandNode(&doc, "", getenv, unset)
	// Re-encode the expanded tree so that a strict decoder reports unknown
	// keys (typos such as keeplast) instead of silently dropping them.
	expanded, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, fmt.Errorf("config: re-encoding: %w", err)
	}
	cfg := Default()
	dec := yaml.NewDecoder(bytes.NewReader(expanded))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		return nil, fmt.Errorf("config: %w", decodeError(err))
	}
	if cfg.ServiceBus.IsZero() {
		cfg.ServiceBus = langsync.Secret(getenv("LANGSYNC_SERVICEBUS"))
	}
	cfg.unset = unset
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// decodeError keeps yaml's per-field messages; they name lines and types,
// and only non-secret (non-string) fields can fail to decode.
func decodeError(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		errs := make([]error, 0, len(te.Errors))
		for _, e := range te.Errors {
			errs = append(errs, errors.New(e))
		}
		return errors.Join(errs...)
	}
	return err
}

// expandNode replaces ${VAR} and $VAR in every scalar value (never in keys)
// and records, per field path, the variables that were unset.
func expandNode(n *yaml.Node, path string, getenv func(string) string, unset map[string][]string) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			expandNode(c, path, getenv, unset)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			expandNode(n.Content[i+1], joinPath(path, n.Content[i].Value), getenv, unset)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			expandNode(c, fmt.Sprintf("%s[%d]", path, i), getenv, unset)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "$") {
			return
		}
		v := os.Expand(n.Value, func(name string) string {
			val := getenv(name)
			if val == "" {
				unset[path] = append(unset[path], name)
			}
			return val
		})
		if v != n.Value {
			// Let the value resolve again, so that keepLast: "${KEEP}" is a
			// number; the tree itself never changes (re-encoding quotes the
			// value as needed), so a variable cannot inject keys.
			n.Value, n.Tag, n.Style = v, "", 0
		}
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Pairs lists every (source project -> target) replication in config order.
func (c *Config) Pairs() []langsync.Pair {
	var pairs []langsync.Pair
	for _, p := range c.Projects {
		for _, t := range p.Targets {
			pair := langsync.Pair{Source: p.Source, Project: p.Name, Target: t.Resource, Deployments: append([]string(nil), p.Deployments...),
				TrainingConfigVersion: p.TrainingConfigVersion}
			// Validate refused an unknown kind; a known one is spelled as
			// the service spells it.
			pair.Kind, _ = langsync.ParseProjectKind(p.Kind)
			if t.As != "" && t.As != p.Name {
				pair.TargetProject = t.As
			}
			pairs = append(pairs, pair)
		}
	}
	return pairs
}

// Resource returns the named resource as the domain type.
func (c *Config) Resource(name string) (langsync.Resource, bool) {
	r, ok := c.Resources[name]
	if !ok || r == nil {
		return langsync.Resource{}, false
	}
	cv := r.ConversationsAPIVersion
	if cv == "" {
		cv = DefaultConversationsAPIVersion
	}
	return langsync.Resource{Name: name, Endpoint: strings.TrimRight(r.Endpoint, "/"), Key: r.Key, Entra: r.Auth == AuthEntra, Storage: r.Storage,
		ConversationsAPIVersion: cv}, true
}

// ResourceNames returns the configured resource names, sorted.
func (c *Config) ResourceNames() []string {
	names := make([]string, 0, len(c.Resources))
	for n := range c.Resources {
		names = append(names, n)
	}
	sortStrings(names)
	return names
}

// yamlLineRE is the "yaml: line N: " prefix of a yaml.v3 syntax error.
var yamlLineRE = regexp.MustCompile(`^yaml: line \d+: `)

// yamlErrorLine points a syntax error at the line that has it. yaml.v3
// reports the line where the enclosing mapping starts (an indentation
// mistake on line 4 is "line 1"), so find the shortest prefix of the text
// that fails with the same problem: its last line is the culprit. If none
// does, the parser's own error is kept.
func yamlErrorLine(data []byte, err error) error {
	problem := yamlLineRE.ReplaceAllString(err.Error(), "")
	if problem == err.Error() {
		return err
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	var prefix []byte
	for i, l := range lines {
		prefix = append(prefix, l...)
		var n yaml.Node
		perr := yaml.Unmarshal(prefix, &n)
		if perr != nil && yamlLineRE.ReplaceAllString(perr.Error(), "") == problem {
			return &yamlLineError{line: i + 1, problem: problem, err: err}
		}
	}
	return err
}

type yamlLineError struct {
	line    int
	problem string
	err     error
}

func (e *yamlLineError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.problem) }
func (e *yamlLineError) Unwrap() error { return e.err }
