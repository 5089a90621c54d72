package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/langsync/langsync/shared/langsync"
)

// Sentinel causes carried by FieldError.Err; test with errors.Is.
var (
	ErrMissing   = errors.New("is required")
	ErrInvalid   = errors.New("is not valid")
	ErrUnknown   = errors.New("names an unknown resource")
	ErrDuplicate = errors.New("is duplicated")
)

// trainingConfigVersionRE is a dated training config version name
// (docs/reference/language-rest.md#gotcha-14-training-config-versions-expire).
var trainingConfigVersionRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}(-[a-z0-9]+)?$`)

// FieldError is one configuration problem. Value is empty for secret fields.
type FieldError struct {
	// Field is the dotted path, e.g. "projects[0].targets[1]".
	Field string
	// Value is the offending value; never set for a secret field.
	Value string
	// Err is the cause, wrapping one of the sentinels.
	Err error
}

func (e *FieldError) Error() string {
	if e.Value != "" {
		return fmt.Sprintf("%s: %q: %v", e.Field, e.Value, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Field, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

type problems []error

func (p *problems) add(field, value string, sentinel error, format string, a ...any) {
	err := sentinel
	if format != "" {
		err = fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, a...))
	}
	*p = append(*p, &FieldError{Field: field, Value: value, Err: err})
}

// Validate checks the whole config and returns every problem at once
// (errors.Join of *FieldError), or nil.
func (c *Config) Validate() error {
	var p problems
	if len(c.Resources) == 0 {
		p.add("resources", "", ErrMissing, "configure at least one Language resource (endpoint and key or auth: entra)")
	}
	for _, name := range c.ResourceNames() {
		c.validateResource(&p, name, c.Resources[name])
	}
	if len(c.Projects) == 0 {
		p.add("projects", "", ErrMissing, "list at least one project with name, source and targets")
	}
	seenProject := map[string]string{}
	seenTarget := map[string]string{}
	for i, pr := range c.Projects {
		f := fmt.Sprintf("projects[%d]", i)
		if err := checkName(pr.Name); err != nil {
			p.add(f+".name", pr.Name, ErrInvalid, "%v", err)
		}
		key := pr.Source + "/" + pr.Name
		if prev, ok := seenProject[key]; ok && pr.Name != "" {
			p.add(f+".name", pr.Name, ErrDuplicate, "the same source project is already configured at %s; list all its targets there", prev)
		}
		seenProject[key] = f
		switch {
		case pr.Source == "":
			p.add(f+".source", "", ErrMissing, "name the resource the project lives on")
		case c.Resources[pr.Source] == nil:
			p.add(f+".source", pr.Source, ErrUnknown, "configured resources: %s", strings.Join(c.ResourceNames(), ", "))
		}
		if len(pr.Targets) == 0 {
			p.add(f+".targets", "", ErrMissing, "name at least one target resource, e.g. targets: [secondary]")
		}
		seenRes := map[string]bool{}
		for j, t := range pr.Targets {
			tf := fmt.Sprintf("%s.targets[%d]", f, j)
			if seenRes[t.Resource] && t.Resource != "" {
				p.add(tf, t.Resource, ErrDuplicate, "a project has one replica per resource")
			}
			seenRes[t.Resource] = true
			switch {
			case t.Resource == "":
				p.add(tf+".resource", "", ErrMissing, "name a configured resource")
			case c.Resources[t.Resource] == nil:
				p.add(tf, t.Resource, ErrUnknown, "configured resources: %s", strings.Join(c.ResourceNames(), ", "))
			}
			name := pr.Name
			if t.As != "" {
				if err := checkName(t.As); err != nil {
					p.add(tf+".as", t.As, ErrInvalid, "%v", err)
				}
				name = t.As
			}
			if t.Resource == pr.Source && name == pr.Name {
				p.add(tf, t.Resource, ErrInvalid, "a project cannot replicate onto itself; pick another resource or set as: <other name>")
			}
			tk := t.Resource + "/" + name
			if prev, ok := seenTarget[tk]; ok && t.Resource != "" {
				p.add(tf, t.Resource, ErrDuplicate, "project %q on %q is already the target of %s; two sources would overwrite each other", name, t.Resource, prev)
			}
			seenTarget[tk] = tf
		}
		seenDep := map[string]bool{}
		for j, d := range pr.Deployments {
			df := fmt.Sprintf("%s.deployments[%d]", f, j)
			if err := checkName(d); err != nil {
				p.add(df, d, ErrInvalid, "%v", err)
			}
			if seenDep[d] {
				p.add(df, d, ErrDuplicate, "")
			}
			seenDep[d] = true
		}
		if v := pr.TrainingConfigVersion; v != "" && v != "latest" && !trainingConfigVersionRE.MatchString(v) {
			p.add(f+".trainingConfigVersion", v, ErrInvalid, "want latest or a dated version such as 2022-05-01 or 2022-05-15-preview")
		}
		if _, ok := langsync.ParseProjectKind(pr.Kind); pr.Kind != "" && !ok {
			p.add(f+".kind", pr.Kind, ErrInvalid, "want one of %s (the project's projectKind), or leave kind out to detect it", kindNames())
		}
	}
	if c.Store.IsZero() {
		p.add("store", "", ErrMissing, "set store to a directory, a Blob connection string or an account URL%s", c.unsetHint("store"))
	} else if _, err := langsync.ParseStoreLocator(c.Store.Reveal()); err != nil {
		// The value may be a key: the parser's message never repeats one.
		p.add("store", "", ErrInvalid, "%v", err)
	}
	for _, cn := range []struct{ field, v string }{{"containers.backups", c.Containers.Backups}, {"containers.state", c.Containers.State}} {
		if err := checkContainer(cn.v); err != nil {
			p.add(cn.field, cn.v, ErrInvalid, "%v", err)
		}
	}
	if c.Containers.Backups != "" && c.Containers.Backups == c.Containers.State {
		p.add("containers.state", c.Containers.State, ErrInvalid, "must differ from containers.backups (backups may be write-once; state is rewritten)")
	}
	if c.Retention.KeepLast < 0 {
		p.add("retention.keepLast", fmt.Sprint(c.Retention.KeepLast), ErrInvalid, "must be 0 or more")
	}
	if c.Retention.KeepDays < 0 {
		p.add("retention.keepDays", fmt.Sprint(c.Retention.KeepDays), ErrInvalid, "must be 0 or more")
	}
	if _, err := ParseSchedule(c.Schedule); err != nil {
		p.add("schedule", c.Schedule, ErrInvalid, "%v", err)
	}
	for i, pr := range c.Probes {
		if strings.TrimSpace(pr) == "" {
			p.add(fmt.Sprintf("probes[%d]", i), "", ErrMissing, "a probe text must not be empty")
		}
	}
	if c.ExpiryWindow < 0 {
		p.add("expiryWindow", "", ErrInvalid, "must not be negative")
	}
	if c.ExpiryWarning < 0 {
		p.add("expiryWarning", "", ErrInvalid, "must not be negative")
	}
	if c.Alerts.MaxLag < 0 {
		p.add("alerts.maxLag", time.Duration(c.Alerts.MaxLag).String(), ErrInvalid, "must not be negative (0 turns the lag alert off; e.g. 26h)")
	}
	if c.Alerts.ExpiryWarning < 0 {
		p.add("alerts.expiryWarning", "", ErrInvalid, "must not be negative (e.g. 30d)")
	}
	if c.Alerts.ExpiryWarning > 0 && c.ExpiryWarning != Duration(DefaultExpiryWarning) && c.ExpiryWarning != c.Alerts.ExpiryWarning {
		p.add("expiryWarning", time.Duration(c.ExpiryWarning).String(), ErrInvalid, "differs from alerts.expiryWarning: keep only alerts.expiryWarning (the global window; projects[].expiryWarning overrides it per project)")
	}
	for i, pr := range c.Projects {
		if pr.ExpiryWarning < 0 {
			p.add(fmt.Sprintf("projects[%d].expiryWarning", i), "", ErrInvalid, "must not be negative (e.g. 30d)")
		}
	}
	if !c.Heartbeat.URL.IsZero() {
		if err := checkHeartbeatURL(c.Heartbeat.URL.Reveal()); err != nil {
			// The value is not echoed: a heartbeat URL holds a token.
			p.add("heartbeat.url", "", ErrInvalid, "%v%s", err, c.unsetHint("heartbeat.url"))
		}
	}
	if c.JobRetries < 0 || c.JobRetries > MaxJobRetries {
		p.add("jobRetries", fmt.Sprint(c.JobRetries), ErrInvalid, "want 0 (no retries) to %d; the default is %d, and every training retry is billed", MaxJobRetries, DefaultJobRetries)
	}
	if c.UnreachableBudget <= 0 {
		p.add("unreachableBudget", time.Duration(c.UnreachableBudget).String(), ErrInvalid, "want a positive duration such as 2m (the default): how long a step retries a resource it cannot connect to")
	}
	if len(p) == 0 {
		return nil
	}
	return errors.Join(p...)
}

func (c *Config) validateResource(p *problems, name string, r *Resource) {
	f := "resources." + name
	if err := checkResourceName(name); err != nil {
		p.add(f, name, ErrInvalid, "%v", err)
	}
	if r == nil {
		p.add(f, "", ErrMissing, "give the resource an endpoint and a key or auth: entra")
		return
	}
	if err := checkEndpoint(r.Endpoint); err != nil {
		p.add(f+".endpoint", r.Endpoint, ErrInvalid, "%v%s", err, c.unsetHint(f+".endpoint"))
	}
	if !r.Storage.IsZero() {
		if _, err := langsync.ParseStoreLocator(r.Storage.Reveal()); err != nil {
			p.add(f+".storage", "", ErrInvalid, "%v", err)
		}
	}
	if v := r.ConversationsAPIVersion; v != "" && !slices.Contains(ConversationsAPIVersions(), v) {
		p.add(f+".conversationsApiVersion", v, ErrInvalid, "want %s (the default, served by every region) or %s (the newer GA version); remove the setting to use the default",
			ConversationsAPIVersion20230401, ConversationsAPIVersion20251101)
	}
	switch r.Auth {
	case "", AuthKey:
		if r.Key.IsZero() {
			p.add(f+".key", "", ErrMissing, "set key (the resource's subscription key) or auth: entra%s", c.unsetHint(f+".key"))
		}
	case AuthEntra:
		if !r.Key.IsZero() {
			p.add(f+".key", "", ErrInvalid, "auth: entra and a key are exclusive; remove one")
		}
	default:
		p.add(f+".auth", r.Auth, ErrInvalid, "want %q or %q", AuthKey, AuthEntra)
	}
}

func (c *Config) unsetHint(field string) string {
	vars := c.unset[field]
	if len(vars) == 0 {
		return ""
	}
	return fmt.Sprintf(" (environment variable %s is not set)", strings.Join(vars, ", "))
}

func checkEndpoint(s string) error {
	if s == "" {
		return errors.New("set the resource's endpoint, e.g. https://<name>.cognitiveservices.azure.com")
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return errors.New("want an absolute URL such as https://<name>.cognitiveservices.azure.com")
	}
	if u.RawQuery != "" || u.User != nil || (u.Path != "" && u.Path != "/") {
		return errors.New("give only scheme and host (no path, query or credentials)")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return errors.New("keys are only sent over https (plain http is allowed for 127.0.0.1/localhost emulators)")
		}
	default:
		return errors.New("scheme must be https")
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkName checks a project, deployment or model name with the
// documented rules (as shared/authoring applies them): 1..50 letters,
// digits, '_', '.' and '-', not only dots, and not the reserved "global".
func checkName(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	if len(s) > 50 {
		return errors.New("longer than 50 characters")
	}
	if strings.Trim(s, ".") == "" {
		return errors.New("use letters or digits, not only dots")
	}
	if strings.EqualFold(s, "global") {
		return errors.New(`"global" is reserved by the service`)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("use only letters, digits, '-', '_' and '.' (found %q)", r)
		}
	}
	return nil
}

// checkResourceName: resource names become blob key segments and a
// backup's recorded source, which restore checks with the same rule.
func checkResourceName(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	if len(s) > langsync.MaxResourceNameLength {
		return fmt.Errorf("longer than %d characters", langsync.MaxResourceNameLength)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("use only letters, digits, '-' and '_' (found %q)", r)
		}
	}
	return nil
}

// checkContainer applies Azure's container naming rules.
func checkContainer(s string) error {
	if len(s) < 3 || len(s) > 63 {
		return errors.New("container names are 3 to 63 characters")
	}
	prev := '-'
	for i, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-'
		if !ok {
			return errors.New("use only lowercase letters, digits and '-'")
		}
		if r == '-' && (prev == '-' || i == 0 || i == len(s)-1) {
			return errors.New("a '-' must sit between letters or digits")
		}
		prev = r
	}
	return nil
}

func sortStrings(s []string) { sort.Strings(s) }

// checkHeartbeatURL accepts https URLs, and http to loopback (a local
// monitor, tests). The URL itself is never part of the error: it usually
// holds the check's token.
func checkHeartbeatURL(raw string) error {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return errors.New("not a URL: give the monitoring check's ping URL (https://<host>/<check id>)")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return errors.New("want https (plain http only to 127.0.0.1/localhost)")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return errors.New("must not carry a query or fragment: langsync appends /fail to it")
	}
	return nil
}

// kindNames lists the kinds projects[].kind accepts, for messages.
func kindNames() string {
	names := make([]string, 0, len(langsync.Kinds()))
	for _, k := range langsync.Kinds() {
		names = append(names, string(k))
	}
	return strings.Join(names, ", ")
}
