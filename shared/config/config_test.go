package config_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/config"
	"github.com/langsync/langsync/shared/langsync"
)

const testKey = "s3cr3t-key-0123456789abcdef"

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDesignExample(t *testing.T) {
	cfg, err := config.Load(filepath.Join("testdata", "design-example.yaml"), env(map[string]string{
		"PRIMARY_KEY": testKey, "SECONDARY_KEY": "other-key",
		"LANGSYNC_STORE": "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=YWJj;EndpointSuffix=core.windows.net",
		// PRIMARY_STORAGE / SECONDARY_STORAGE unset: storage is optional.
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	p, ok := cfg.Resource("primary")
	if !ok || p.Endpoint != "https://contoso-eastus.cognitiveservices.azure.com" || p.Key.Reveal() != testKey || p.Entra || !p.Storage.IsZero() {
		t.Errorf("primary = %+v (key %q)", p, p.Key.Reveal())
	}
	wantPairs := []langsync.Pair{{Source: "primary", Project: "Tickets", Target: "secondary", Deployments: []string{"production"}}}
	if got := cfg.Pairs(); !reflect.DeepEqual(got, wantPairs) {
		t.Errorf("Pairs = %+v, want %+v", got, wantPairs)
	}
	if !strings.HasPrefix(cfg.Store.Reveal(), "DefaultEndpointsProtocol=https;") {
		t.Errorf("store = %q", cfg.Store.Reveal())
	}
	if cfg.Containers != (config.Containers{Backups: "langsync-backups", State: "langsync-state"}) {
		t.Errorf("containers = %+v", cfg.Containers)
	}
	if cfg.Retention != (config.Retention{KeepLast: 30, KeepDays: 90}) {
		t.Errorf("retention = %+v", cfg.Retention)
	}
	if cfg.Schedule != "0 0 2 * * *" || len(cfg.Probes) != 2 || cfg.Probes[1] != "The website is down again" {
		t.Errorf("schedule %q probes %q", cfg.Schedule, cfg.Probes)
	}
	if time.Duration(cfg.ExpiryWindow) != config.DefaultExpiryWindow {
		t.Errorf("expiryWindow = %v, want default", time.Duration(cfg.ExpiryWindow))
	}
	if time.Duration(cfg.ExpiryWarning) != config.DefaultExpiryWarning || cfg.RenewExpiring {
		t.Errorf("expiryWarning = %v renewExpiring %v, want the defaults 30d and false", time.Duration(cfg.ExpiryWarning), cfg.RenewExpiring)
	}
	if cfg.JobRetries != 2 || time.Duration(cfg.UnreachableBudget) != 2*time.Minute {
		t.Errorf("jobRetries %d unreachableBudget %v, want the defaults 2 and 2m", cfg.JobRetries, time.Duration(cfg.UnreachableBudget))
	}
}

func TestParseForms(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		env   map[string]string
		check func(t *testing.T, c *config.Config)
	}{
		{
			name: "full",
			file: "full.yaml",
			env:  map[string]string{"PRIMARY_KEY": testKey, "KEEP_LAST": "7", "LANGSYNC_SERVICEBUS": "ignored-file-wins"},
			check: func(t *testing.T, c *config.Config) {
				want := []langsync.Pair{
					{Source: "primary", Project: "Tickets", Target: "secondary"},
					{Source: "primary", Project: "Tickets", Target: "local", TargetProject: "TicketsDR"},
					{Source: "primary", Project: "Contracts", Target: "secondary", TargetProject: "Contracts2", Deployments: []string{"production", "staging"}},
				}
				if got := c.Pairs(); !reflect.DeepEqual(got, want) {
					t.Errorf("Pairs = %+v\nwant %+v", got, want)
				}
				if r, _ := c.Resource("secondary"); !r.Entra || !r.Key.IsZero() {
					t.Errorf("secondary = %+v, want entra", r)
				}
				if r, _ := c.Resource("primary"); r.Endpoint != "https://contoso-eastus.cognitiveservices.azure.com" || r.Storage.Reveal() != "./testdata/docs" {
					t.Errorf("primary = %+v, want trailing slash trimmed", r)
				}
				if c.Retention != (config.Retention{KeepLast: 7, KeepDays: 90}) {
					t.Errorf("retention = %+v, want keepLast from ${KEEP_LAST} and default keepDays", c.Retention)
				}
				if c.Containers.Backups != "my-backups" || c.Containers.State != "langsync-state" {
					t.Errorf("containers = %+v", c.Containers)
				}
				if time.Duration(c.ExpiryWindow) != 30*24*time.Hour {
					t.Errorf("expiryWindow = %v", time.Duration(c.ExpiryWindow))
				}
				if c.JobRetries != 1 || time.Duration(c.UnreachableBudget) != 90*time.Second {
					t.Errorf("jobRetries %d unreachableBudget %v", c.JobRetries, time.Duration(c.UnreachableBudget))
				}
				if c.ServiceBus.Reveal() != "sb.servicebus.windows.net" {
					t.Errorf("serviceBus = %q", c.ServiceBus.Reveal())
				}
			},
		},
		{
			name: "json",
			file: "config.json",
			env:  map[string]string{"PRIMARY_KEY": testKey, "LANGSYNC_STORE": t.TempDir(), "LANGSYNC_SERVICEBUS": "ns.servicebus.windows.net"},
			check: func(t *testing.T, c *config.Config) {
				if len(c.Pairs()) != 1 || c.ServiceBus.Reveal() != "ns.servicebus.windows.net" {
					t.Errorf("pairs %+v servicebus %q", c.Pairs(), c.ServiceBus.Reveal())
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(filepath.Join("testdata", tt.file), env(tt.env))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestValidateListsEveryProblem(t *testing.T) {
	_, err := config.Load(filepath.Join("testdata", "broken.yaml"), env(map[string]string{"PRIMARY_KEY": testKey}))
	if err == nil {
		t.Fatal("Load succeeded, want errors")
	}
	msg := err.Error()
	for _, want := range []string{
		"resources.primary.endpoint",
		"resources.bad/name",
		"resources.bad/name.auth",
		"projects[0].name",
		"projects[0].source: \"nowhere\"",
		"projects[0].targets[0]: \"missing\"",
		"projects[0].deployments[1]: \"prod\": is duplicated",
		"projects[1].targets: is required",
		"store: is required",
		"containers.backups",
		"containers.state",
		"retention.keepLast",
		"retention.keepDays",
		"schedule",
		"probes[0]",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, testKey) {
		t.Errorf("error echoes the key:\n%s", msg)
	}
	var fe *config.FieldError
	if !errors.As(err, &fe) {
		t.Errorf("errors.As(*FieldError) failed")
	}
	if !errors.Is(err, config.ErrUnknown) || !errors.Is(err, config.ErrDuplicate) {
		t.Errorf("sentinels not reachable with errors.Is")
	}
}

func TestUnsetVariableIsNamed(t *testing.T) {
	_, err := config.Load(filepath.Join("testdata", "design-example.yaml"), env(map[string]string{"SECONDARY_KEY": "x"}))
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{"resources.primary.key: is required", "PRIMARY_KEY is not set", "store: is required", "LANGSYNC_STORE is not set"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestParseRejects(t *testing.T) {
	base := "resources: {a: {endpoint: 'https://a.example.com', key: k}, b: {endpoint: 'https://b.example.com', key: k}}\nstore: /tmp/x\n"
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", base + "projects: [{name: P, source: a, targets: [b]}]\nretention: {keeplast: 3}\n", "field keeplast not found"},
		{"not yaml", "resources: [", "not valid YAML"},
		{"unquoted var in flow", "resources: {a: {endpoint: x, key: ${K}}}\n", `must be quoted: key: "${VAR}"`},
		{"empty", "", "empty config"},
		{"self target", base + "projects: [{name: P, source: a, targets: [a]}]\n", "cannot replicate onto itself"},
		{"two sources one target", base + "projects: [{name: P, source: a, targets: [b]}, {name: Q, source: a, targets: [{resource: b, as: P}]}]\n", "already the target"},
		{"http non-loopback", "resources: {a: {endpoint: 'http://a.example.com', key: k}}\nstore: ./x\nprojects: [{name: P, source: a, targets: [{resource: a, as: Q}]}]\n", "only sent over https"},
		{"entra and key", "resources: {a: {endpoint: 'https://a.example.com', key: k, auth: entra}, b: {endpoint: 'https://b.example.com', key: k}}\nstore: ./x\nprojects: [{name: P, source: a, targets: [b]}]\n", "exclusive"},
		{"bad window", base + "projects: [{name: P, source: a, targets: [b]}]\nexpiryWindow: soon\n", "bad duration"},
		{"same resource twice", base + "projects: [{name: P, source: a, targets: [b, {resource: b, as: Q}]}]\n", "one replica per resource"},
		{"global", base + "projects: [{name: global, source: a, targets: [b]}]\n", "reserved"},
		{"negative job retries", base + "projects: [{name: P, source: a, targets: [b]}]\njobRetries: -1\n", `jobRetries: "-1": is not valid: want 0 (no retries) to 10`},
		{"too many job retries", base + "projects: [{name: P, source: a, targets: [b]}]\njobRetries: 50\n", `jobRetries: "50": is not valid`},
		{"job retries not a number", base + "projects: [{name: P, source: a, targets: [b]}]\njobRetries: twice\n", "cannot unmarshal"},
		{"zero unreachable budget", base + "projects: [{name: P, source: a, targets: [b]}]\nunreachableBudget: 0s\n", "unreachableBudget: \"0s\": is not valid: want a positive duration such as 2m"},
		{"negative unreachable budget", base + "projects: [{name: P, source: a, targets: [b]}]\nunreachableBudget: -1m\n", "unreachableBudget: \"-1m0s\": is not valid"},
		{"bad unreachable budget", base + "projects: [{name: P, source: a, targets: [b]}]\nunreachableBudget: soon\n", "bad duration"},
		{"bad training config version", base + "projects: [{name: P, source: a, targets: [b], trainingConfigVersion: newest}]\n", `projects[0].trainingConfigVersion: "newest": is not valid: want latest or a dated version`},
		{"unknown kind", base + "projects: [{name: P, source: a, targets: [b], kind: customNamedEntityRecognition}]\n", `projects[0].kind: "customNamedEntityRecognition": is not valid: want one of CustomSingleLabelClassification, CustomMultiLabelClassification, CustomEntityRecognition, Conversation, Orchestration (the project's projectKind), or leave kind out to detect it`},
		{"negative expiry warning", base + "projects: [{name: P, source: a, targets: [b]}]\nexpiryWarning: -1h\n", "expiryWarning: is not valid"},
		{"negative max lag", base + "projects: [{name: P, source: a, targets: [b]}]\nalerts: {maxLag: -1h}\n", "alerts.maxLag: \"-1h0m0s\": is not valid"},
		{"two global windows", base + "projects: [{name: P, source: a, targets: [b]}]\nexpiryWarning: 20d\nalerts: {expiryWarning: 40d}\n", "keep only alerts.expiryWarning"},
		{"negative project window", base + "projects: [{name: P, source: a, targets: [b], expiryWarning: -2d}]\n", "projects[0].expiryWarning: is not valid"},
		{"heartbeat over http", base + "projects: [{name: P, source: a, targets: [b]}]\nheartbeat: {url: 'http://hc.example.com/tok-123'}\n", "want https"},
		{"heartbeat with query", base + "projects: [{name: P, source: a, targets: [b]}]\nheartbeat: {url: 'https://hc.example.com/tok-123?x=1'}\n", "must not carry a query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tt.yaml), env(nil))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// alerts.expiryWarning is the global window, a project's own overrides it,
// the old top-level expiryWarning still sets it; maxLag defaults to 26h.
func TestAlertsAndWindows(t *testing.T) {
	base := "resources: {a: {endpoint: 'https://a.example.com', key: k}, b: {endpoint: 'https://b.example.com', key: k}}\nstore: /tmp/x\n"
	for _, tt := range []struct {
		name, yaml string
		p, q       time.Duration
		maxLag     time.Duration
	}{
		{"defaults", "projects: [{name: P, source: a, targets: [b]}, {name: Q, source: a, targets: [b]}]\n", 30 * 24 * time.Hour, 30 * 24 * time.Hour, 26 * time.Hour},
		{"old key", "expiryWarning: 10d\nprojects: [{name: P, source: a, targets: [b]}, {name: Q, source: a, targets: [b]}]\n", 10 * 24 * time.Hour, 10 * 24 * time.Hour, 26 * time.Hour},
		{"alerts and a project", "alerts: {maxLag: 2h, expiryWarning: 45d}\nheartbeat: {url: 'https://hc.example.com/tok-123'}\nprojects: [{name: P, source: a, targets: [b], expiryWarning: 60d}, {name: Q, source: a, targets: [b]}]\n", 60 * 24 * time.Hour, 45 * 24 * time.Hour, 2 * time.Hour},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse([]byte(base+tt.yaml), env(nil))
			if err != nil {
				t.Fatal(err)
			}
			if p, q := cfg.ExpiryWarningFor("a", "P"), cfg.ExpiryWarningFor("a", "Q"); p != tt.p || q != tt.q || time.Duration(cfg.Alerts.MaxLag) != tt.maxLag {
				t.Errorf("windows P %v Q %v maxLag %v, want %v %v %v", p, q, cfg.Alerts.MaxLag, tt.p, tt.q, tt.maxLag)
			}
			if b, _ := json.Marshal(cfg); strings.Contains(string(b), "tok-123") {
				t.Errorf("the heartbeat URL is in the config's JSON: %s", b)
			}
		})
	}
}

func TestExpansionCannotInjectStructure(t *testing.T) {
	y := "resources: {a: {endpoint: 'https://a.example.com', key: '${K}'}, b: {endpoint: 'https://b.example.com', auth: entra}}\nstore: ./x\nprojects: [{name: P, source: a, targets: [b]}]\n"
	evil := "k\nschedule: bogus"
	c, err := config.Parse([]byte(y), env(map[string]string{"K": evil}))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if r, _ := c.Resource("a"); r.Key.Reveal() != evil || c.Schedule != config.DefaultSchedule {
		t.Errorf("key %q schedule %q: expansion changed the document", r.Key.Reveal(), c.Schedule)
	}
}

func TestFromAppSettings(t *testing.T) {
	t.Run("one pair", func(t *testing.T) {
		c, err := config.FromAppSettings(env(map[string]string{
			"LANGSYNC_PRIMARY_ENDPOINT": "https://a.cognitiveservices.azure.com", "LANGSYNC_PRIMARY_KEY": testKey,
			"LANGSYNC_SECONDARY_ENDPOINT": "https://b.cognitiveservices.azure.com", "LANGSYNC_SECONDARY_KEY": "k2",
			"LANGSYNC_PROJECTS": "Tickets, Contracts", "LANGSYNC_STORE": "/data", "LANGSYNC_SERVICEBUS": "ns.servicebus.windows.net",
		}))
		if err != nil {
			t.Fatalf("FromAppSettings: %v", err)
		}
		want := []langsync.Pair{{Source: "primary", Project: "Tickets", Target: "secondary"}, {Source: "primary", Project: "Contracts", Target: "secondary"}}
		if !reflect.DeepEqual(c.Pairs(), want) || c.ServiceBus.Reveal() != "ns.servicebus.windows.net" {
			t.Errorf("pairs %+v servicebus %q", c.Pairs(), c.ServiceBus.Reveal())
		}
	})
	t.Run("inline", func(t *testing.T) {
		c, err := config.FromAppSettings(env(map[string]string{
			"LANGSYNC_CONFIG": `{"resources":{"p":{"endpoint":"https://a.example.com","key":"${K}"},"s":{"endpoint":"https://b.example.com","auth":"entra"}},"projects":[{"name":"T","source":"p","targets":["s"]}],"store":"/d"}`,
			"K":               testKey,
		}))
		if err != nil {
			t.Fatalf("FromAppSettings: %v", err)
		}
		if r, _ := c.Resource("p"); r.Key.Reveal() != testKey {
			t.Errorf("key not expanded")
		}
	})
	t.Run("entra", func(t *testing.T) {
		c, err := config.FromAppSettings(env(map[string]string{
			"LANGSYNC_PRIMARY_ENDPOINT": "https://a.cognitiveservices.azure.com", "LANGSYNC_SECONDARY_ENDPOINT": "https://b.cognitiveservices.azure.com",
			"LANGSYNC_AUTH": "entra", "LANGSYNC_PROJECTS": "Tickets", "LANGSYNC_STORE": "https://acct.blob.core.windows.net",
			"LANGSYNC_SCHEDULE": "0 30 3 * * *",
		}))
		if err != nil {
			t.Fatalf("FromAppSettings: %v", err)
		}
		if r, _ := c.Resource("secondary"); !r.Entra || c.Schedule != "0 30 3 * * *" {
			t.Errorf("secondary %+v schedule %q", r, c.Schedule)
		}
	})
	onePair := func(extra map[string]string) map[string]string {
		m := map[string]string{
			"LANGSYNC_PRIMARY_ENDPOINT": "https://a.cognitiveservices.azure.com", "LANGSYNC_PRIMARY_KEY": testKey,
			"LANGSYNC_SECONDARY_ENDPOINT": "https://b.cognitiveservices.azure.com", "LANGSYNC_SECONDARY_KEY": "k2",
			"LANGSYNC_PROJECTS": "Tickets", "LANGSYNC_STORE": "/data",
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	t.Run("retry settings", func(t *testing.T) {
		c, err := config.FromAppSettings(env(onePair(map[string]string{"LANGSYNC_JOB_RETRIES": "0", "LANGSYNC_UNREACHABLE_BUDGET": "5m"})))
		if err != nil {
			t.Fatalf("FromAppSettings: %v", err)
		}
		if c.JobRetries != 0 || time.Duration(c.UnreachableBudget) != 5*time.Minute {
			t.Errorf("jobRetries %d unreachableBudget %v", c.JobRetries, time.Duration(c.UnreachableBudget))
		}
	})
	t.Run("bad retry settings", func(t *testing.T) {
		_, err := config.FromAppSettings(env(onePair(map[string]string{"LANGSYNC_JOB_RETRIES": "two", "LANGSYNC_UNREACHABLE_BUDGET": "-3m"})))
		if err == nil {
			t.Fatal("want error")
		}
		for _, want := range []string{`jobRetries: "two": is not valid: want a whole number (from LANGSYNC_JOB_RETRIES)`, `unreachableBudget: "-3m0s": is not valid`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q:\n%v", want, err)
			}
		}
	})
	t.Run("missing", func(t *testing.T) {
		_, err := config.FromAppSettings(env(map[string]string{"LANGSYNC_PRIMARY_KEY": testKey}))
		if err == nil {
			t.Fatal("want error")
		}
		for _, want := range []string{"LANGSYNC_PRIMARY_ENDPOINT is not set", "LANGSYNC_SECONDARY_KEY is not set", "LANGSYNC_STORE is not set", "LANGSYNC_PROJECTS"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q:\n%v", want, err)
			}
		}
		if strings.Contains(err.Error(), testKey) {
			t.Errorf("error echoes the key")
		}
	})
}

func TestSchedule(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		expr, from, want string
	}{
		{"0 0 2 * * *", "2026-12-01T07:49:19Z", "2026-12-02T02:00:00Z"},
		{"0 0 2 * * *", "2026-12-01T01:59:59Z", "2026-12-01T02:00:00Z"},
		{"0 */5 * * * *", "2026-12-01T07:49:19Z", "2026-12-01T07:50:00Z"},
		{"0 30 1 * * Mon-Fri", "2026-12-04T02:00:00Z", "2026-12-07T01:30:00Z"}, // Fri after 01:30 -> Mon
		{"15,45 0 0 1 Jan *", "2026-12-01T00:00:00Z", "2027-01-01T00:00:15Z"},
	}
	for _, tt := range tests {
		s, err := config.ParseSchedule(tt.expr)
		if err != nil {
			t.Fatalf("ParseSchedule(%q): %v", tt.expr, err)
		}
		if got := s.Next(at(tt.from)); !got.Equal(at(tt.want)) {
			t.Errorf("%q.Next(%s) = %s, want %s", tt.expr, tt.from, got.Format(time.RFC3339), tt.want)
		}
	}
	for _, bad := range []string{"0 0 2 * *", "60 * * * * *", "* * * * 13 *", "* * * * * Funday", "*/0 * * * * *", "5-1 * * * * *"} {
		if _, err := config.ParseSchedule(bad); err == nil {
			t.Errorf("ParseSchedule(%q) succeeded, want error", bad)
		}
	}
}

// TestStoreLocatorTypos: a mistyped store or storage is a config error
// that names the field and the problem, and never repeats the key.
func TestStoreLocatorTypos(t *testing.T) {
	const key = "c2VjcmV0LWtleS1kby1ub3QtbGVhaw=="
	base := "resources: {a: {endpoint: 'https://a.example.com', key: k%s}, b: {endpoint: 'https://b.example.com', key: k}}\nprojects: [{name: P, source: a, targets: [b]}]\nstore: '%s'\n"
	tests := []struct {
		name, storage, store, want string
	}{
		{"store misspelled key", "", "DefaultEndpointProtocol=https;AccountName=acct;AccountKey=" + key, `store: is not valid: the Blob connection string is malformed: unknown key "DefaultEndpointProtocol" (did you mean DefaultEndpointsProtocol?)`},
		{"store key without equals", "", "AccountName=acct;AccountKey" + key, "store: is not valid: the Blob connection string is malformed: the segment starting with AccountKey has no '='"},
		{"store bare word", "", "backups", "store: is not valid: the store locator is not a directory path"},
		{"storage typo", ", storage: 'AccountName=acct;AcountKey=" + key + "'", "./store", "resources.a.storage: is not valid: the Blob connection string is malformed"},
		{"storage relative", ", storage: 'docs'", "./store", "resources.a.storage: is not valid: the store locator is not a directory path, a connection string or a URL (a relative directory must start with ./)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse([]byte(fmt.Sprintf(base, tt.storage, tt.store)), env(nil))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), key) || strings.Contains(err.Error(), "c2VjcmV0") {
				t.Fatalf("error repeats the key: %v", err)
			}
		})
	}
}

// TestParseExpiryWatch: the per-project training config version override
// reaches every pair of the project; the expiry watch settings parse.
func TestParseExpiryWatch(t *testing.T) {
	y := "resources: {a: {endpoint: 'https://a.example.com', key: k}, b: {endpoint: 'https://b.example.com', key: k}, c: {endpoint: 'https://c.example.com', key: k}}\nstore: /tmp/x\n" +
		"projects: [{name: P, source: a, targets: [b, c], trainingConfigVersion: 2022-05-15-preview}, {name: Q, source: a, targets: [b]}]\n" +
		"expiryWarning: 45d\nrenewExpiring: true\n"
	cfg, err := config.Parse([]byte(y), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range cfg.Pairs() {
		got = append(got, p.Project+"->"+p.Target+":"+p.TrainingConfigVersion)
	}
	if want := []string{"P->b:2022-05-15-preview", "P->c:2022-05-15-preview", "Q->b:"}; !reflect.DeepEqual(got, want) {
		t.Errorf("pairs %v, want %v", got, want)
	}
	if time.Duration(cfg.ExpiryWarning) != 45*24*time.Hour || !cfg.RenewExpiring {
		t.Errorf("expiryWarning %v renewExpiring %v", time.Duration(cfg.ExpiryWarning), cfg.RenewExpiring)
	}
}

// TestParseKind: projects[].kind reaches every pair of its project, spelled
// as the service spells it whatever the case written; absent, it is empty
// (detected at inspect).
func TestParseKind(t *testing.T) {
	y := "resources: {a: {endpoint: 'https://a.example.com', key: k}, b: {endpoint: 'https://b.example.com', key: k}, c: {endpoint: 'https://c.example.com', key: k}}\nstore: /tmp/x\n" +
		"projects: [{name: Travel, source: a, targets: [b, c], kind: conversation}, {name: Router, source: a, targets: [b], kind: Orchestration}, {name: Q, source: a, targets: [b]}]\n"
	cfg, err := config.Parse([]byte(y), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range cfg.Pairs() {
		got = append(got, p.Project+"->"+p.Target+":"+string(p.Kind))
	}
	if want := []string{"Travel->b:Conversation", "Travel->c:Conversation", "Router->b:Orchestration", "Q->b:"}; !reflect.DeepEqual(got, want) {
		t.Errorf("pairs %v, want %v", got, want)
	}
}

// resources[].conversationsApiVersion: absent is the default 2023-04-01,
// either GA version is kept, anything else is refused naming the field,
// the value, the accepted versions and the fix.
func TestConversationsAPIVersion(t *testing.T) {
	const tmpl = "resources: {a: {endpoint: 'https://a.example.com', key: k%s}, b: {endpoint: 'https://b.example.com', key: k}}\nstore: /tmp/x\nprojects: [{name: P, source: a, targets: [b]}]\n"
	for _, tt := range []struct {
		name, setting string
		want, wantErr string
	}{
		{"default", "", "2023-04-01", ""},
		{"older GA", ", conversationsApiVersion: 2023-04-01", "2023-04-01", ""},
		{"newer GA", ", conversationsApiVersion: 2025-11-01", "2025-11-01", ""},
		{"quoted", ", conversationsApiVersion: '2025-11-01'", "2025-11-01", ""},
		{"preview", ", conversationsApiVersion: 2024-11-15-preview", "", `resources.a.conversationsApiVersion: "2024-11-15-preview": is not valid: want 2023-04-01 (the default, served by every region) or 2025-11-01 (the newer GA version); remove the setting to use the default`},
		{"text-only version", ", conversationsApiVersion: 2022-05-01", "", `resources.a.conversationsApiVersion: "2022-05-01": is not valid`},
		{"typo", ", conversationsApiVersion: latest", "", `resources.a.conversationsApiVersion: "latest": is not valid: want 2023-04-01`},
		{"misspelt key", ", conversationsAPIVersion: 2025-11-01", "", "field conversationsAPIVersion not found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse([]byte(fmt.Sprintf(tmpl, tt.setting)), env(nil))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			a, _ := cfg.Resource("a")
			b, _ := cfg.Resource("b")
			if a.ConversationsAPIVersion != tt.want || b.ConversationsAPIVersion != config.DefaultConversationsAPIVersion {
				t.Errorf("a %q b %q, want %q and the default %q", a.ConversationsAPIVersion, b.ConversationsAPIVersion, tt.want, config.DefaultConversationsAPIVersion)
			}
		})
	}
}

// The one-pair app settings set both resources' version, or name the bad
// value and the setting to change.
func TestConversationsAPIVersionAppSetting(t *testing.T) {
	base := map[string]string{
		config.EnvPrimaryEndpoint: "https://a.example.com", config.EnvPrimaryKey: testKey,
		config.EnvSecondaryEndpoint: "https://b.example.com", config.EnvSecondaryKey: testKey,
		config.EnvProjects: "P", config.EnvStore: "/d",
	}
	for _, tt := range []struct{ value, want, wantErr string }{
		{"", "2023-04-01", ""},
		{"2025-11-01", "2025-11-01", ""},
		{"2025-11-15-preview", "", `conversationsApiVersion: "2025-11-15-preview": is not valid: want 2023-04-01 (the default, served by every region) or 2025-11-01 (the newer GA version); unset LANGSYNC_CONVERSATIONS_API_VERSION to use the default`},
	} {
		t.Run(tt.value, func(t *testing.T) {
			m := map[string]string{config.EnvConversationsAPIVersion: tt.value}
			for k, v := range base {
				m[k] = v
			}
			cfg, err := config.FromAppSettings(env(m))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range []string{"primary", "secondary"} {
				if r, _ := cfg.Resource(n); r.ConversationsAPIVersion != tt.want {
					t.Errorf("%s: %q, want %q", n, r.ConversationsAPIVersion, tt.want)
				}
			}
		})
	}
}
