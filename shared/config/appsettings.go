package config

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/langsync/langsync/shared/langsync"
)

// App settings read by FromAppSettings.
const (
	// EnvConfig holds the whole config inline, as YAML or JSON.
	EnvConfig = "LANGSYNC_CONFIG"
	// The one-pair form: every listed project on primary replicated to secondary.
	EnvPrimaryEndpoint   = "LANGSYNC_PRIMARY_ENDPOINT"
	EnvPrimaryKey        = "LANGSYNC_PRIMARY_KEY"
	EnvPrimaryStorage    = "LANGSYNC_PRIMARY_STORAGE"
	EnvSecondaryEndpoint = "LANGSYNC_SECONDARY_ENDPOINT"
	EnvSecondaryKey      = "LANGSYNC_SECONDARY_KEY"
	EnvSecondaryStorage  = "LANGSYNC_SECONDARY_STORAGE"
	// EnvProjects is a comma-separated list of project names.
	EnvProjects = "LANGSYNC_PROJECTS"
	EnvStore    = "LANGSYNC_STORE"
	// EnvAuth "entra" makes both resources use Entra ID instead of keys.
	EnvAuth       = "LANGSYNC_AUTH"
	EnvSchedule   = "LANGSYNC_SCHEDULE"
	EnvServiceBus = "LANGSYNC_SERVICEBUS"
	// EnvJobRetries and EnvUnreachableBudget set jobRetries and
	// unreachableBudget in the one-pair form.
	EnvJobRetries        = "LANGSYNC_JOB_RETRIES"
	EnvUnreachableBudget = "LANGSYNC_UNREACHABLE_BUDGET"
	// EnvConversationsAPIVersion sets both resources'
	// conversationsApiVersion in the one-pair form.
	EnvConversationsAPIVersion = "LANGSYNC_CONVERSATIONS_API_VERSION"
)

// FromAppSettings builds the config from Azure Functions app settings:
// LANGSYNC_CONFIG (inline YAML or JSON, ${ENV} expanded) when set, else the
// one-pair form (LANGSYNC_PRIMARY_ENDPOINT, LANGSYNC_PRIMARY_KEY,
// LANGSYNC_SECONDARY_ENDPOINT, LANGSYNC_SECONDARY_KEY, LANGSYNC_PROJECTS,
// LANGSYNC_STORE; optional LANGSYNC_PRIMARY_STORAGE, LANGSYNC_SECONDARY_STORAGE,
// LANGSYNC_AUTH=entra, LANGSYNC_SCHEDULE, LANGSYNC_JOB_RETRIES,
// LANGSYNC_UNREACHABLE_BUDGET, LANGSYNC_CONVERSATIONS_API_VERSION). LANGSYNC_SERVICEBUS is read in both forms. nil getenv means os.Getenv.
func FromAppSettings(getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if inline := getenv(EnvConfig); strings.TrimSpace(inline) != "" {
		cfg, err := Parse([]byte(inline), getenv)
		if err != nil {
			return nil, fmt.Errorf("config: %s: %w", EnvConfig, err)
		}
		return cfg, nil
	}
	cfg := Default()
	auth := strings.ToLower(strings.TrimSpace(getenv(EnvAuth)))
	cfg.Resources["primary"] = &Resource{Endpoint: getenv(EnvPrimaryEndpoint), Key: langsync.Secret(getenv(EnvPrimaryKey)), Auth: auth, Storage: langsync.Secret(getenv(EnvPrimaryStorage))}
	cfg.Resources["secondary"] = &Resource{Endpoint: getenv(EnvSecondaryEndpoint), Key: langsync.Secret(getenv(EnvSecondaryKey)), Auth: auth, Storage: langsync.Secret(getenv(EnvSecondaryStorage))}
	cfg.unset = map[string][]string{}
	for field, env := range map[string]string{
		"resources.primary.endpoint": EnvPrimaryEndpoint, "resources.primary.key": EnvPrimaryKey,
		"resources.secondary.endpoint": EnvSecondaryEndpoint, "resources.secondary.key": EnvSecondaryKey,
		"store": EnvStore,
	} {
		if getenv(env) == "" {
			cfg.unset[field] = []string{env}
		}
	}
	for _, name := range strings.Split(getenv(EnvProjects), ",") {
		if name = strings.TrimSpace(name); name != "" {
			cfg.Projects = append(cfg.Projects, Project{Name: name, Source: "primary", Targets: []Target{{Resource: "secondary"}}})
		}
	}
	cfg.Store = langsync.Secret(getenv(EnvStore))
	if s := getenv(EnvSchedule); s != "" {
		cfg.Schedule = s
	}
	cfg.ServiceBus = langsync.Secret(getenv(EnvServiceBus))
	var p problems
	if v := strings.TrimSpace(getenv(EnvJobRetries)); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			p.add("jobRetries", v, ErrInvalid, "want a whole number (from %s)", EnvJobRetries)
		}
		cfg.JobRetries = n
	}
	if v := strings.TrimSpace(getenv(EnvUnreachableBudget)); v != "" {
		d, err := ParseDuration(v)
		if err != nil {
			p.add("unreachableBudget", v, ErrInvalid, "%v (from %s)", err, EnvUnreachableBudget)
		} else {
			cfg.UnreachableBudget = Duration(d)
		}
	}
	if v := strings.TrimSpace(getenv(EnvConversationsAPIVersion)); v != "" {
		if slices.Contains(ConversationsAPIVersions(), v) {
			for _, r := range cfg.Resources {
				r.ConversationsAPIVersion = v
			}
		} else {
			p.add("conversationsApiVersion", v, ErrInvalid, "want %s (the default, served by every region) or %s (the newer GA version); unset %s to use the default",
				ConversationsAPIVersion20230401, ConversationsAPIVersion20251101, EnvConversationsAPIVersion)
		}
	}
	if err := errors.Join(errors.Join(p...), cfg.Validate()); err != nil {
		if len(cfg.Projects) == 0 {
			err = fmt.Errorf("%w\n(set %s, or %s with a comma-separated project list)", err, EnvConfig, EnvProjects)
		}
		return nil, fmt.Errorf("config: app settings: %w", err)
	}
	return cfg, nil
}
