package deploycheck

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// inputs are the files the checks read, by path relative to the
// repository root, and the app settings the binary reads.
type inputs struct {
	files map[string]string
	// reads are the app settings named in the Go source of what the
	// Functions host runs (shared/config, shared/customhandler,
	// cmd/langsync/serve.go).
	reads []string
}

func (in *inputs) clone() *inputs {
	return &inputs{files: maps.Clone(in.files), reads: slices.Clone(in.reads)}
}

// functionFiles returns the function.json paths, sorted.
func (in *inputs) functionFiles() []string {
	var out []string
	for p := range in.files {
		if strings.HasPrefix(p, "functions/") && strings.HasSuffix(p, "/function.json") {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// bicepFiles returns the infra/*.bicep paths, sorted.
func (in *inputs) bicepFiles() []string {
	var out []string
	for p := range in.files {
		if strings.HasPrefix(p, "infra/") && strings.HasSuffix(p, ".bicep") {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

type binding struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Direction  string `json:"direction"`
	QueueName  string `json:"queueName"`
	Connection string `json:"connection"`
	Path       string `json:"path"`
	Source     string `json:"source"`
	Schedule   string `json:"schedule"`
}

type function struct {
	name     string
	Bindings []binding `json:"bindings"`
}

func (in *inputs) functions() ([]function, []string) {
	var fns []function
	var bad []string
	for _, p := range in.functionFiles() {
		f := function{name: strings.TrimSuffix(strings.TrimPrefix(p, "functions/"), "/function.json")}
		if err := json.Unmarshal([]byte(in.files[p]), &f); err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", p, err))
			continue
		}
		fns = append(fns, f)
	}
	return fns, bad
}

// root is the repository root (this package is internal/deploycheck).
func root(t *testing.T) string {
	t.Helper()
	r, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// settingLiteral is a Go string constant naming an app setting.
var settingLiteral = regexp.MustCompile(`"((?:LANGSYNC|FUNCTIONS|AZURE)_[A-Za-z0-9_]+)"`)

// readSources are the Go files (or directories, non-test files only) whose
// setting names the deployed binary reads.
var readSources = []string{"shared/config", "shared/customhandler", "cmd/langsync/serve.go"}

func load(t *testing.T) *inputs {
	t.Helper()
	r := root(t)
	in := &inputs{files: map[string]string{}}
	var paths []string
	for _, pat := range []string{"infra/*.bicep", "infra/*.sh", "infra/main.parameters.json", "functions/*/function.json"} {
		m, err := filepath.Glob(filepath.Join(r, pat))
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	for _, p := range []string{"azure.yaml", "host.json", "Makefile", "docs/deploy.md", "docs/observability.md"} {
		paths = append(paths, filepath.Join(r, p))
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(r, p)
		in.files[filepath.ToSlash(rel)] = string(b)
	}
	seen := map[string]bool{}
	for _, src := range readSources {
		p := filepath.Join(r, src)
		files := []string{p}
		if st, err := os.Stat(p); err != nil {
			t.Fatal(err)
		} else if st.IsDir() {
			files, _ = filepath.Glob(filepath.Join(p, "*.go"))
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range settingLiteral.FindAllStringSubmatch(string(b), -1) {
				if !seen[m[1]] {
					seen[m[1]] = true
					in.reads = append(in.reads, m[1])
				}
			}
		}
	}
	sort.Strings(in.reads)
	return in
}

// optionalSettings are settings the binary reads that the template does not
// set, and why; each must be named in docs/deploy.md.
var optionalSettings = map[string]string{
	"FUNCTIONS_CUSTOMHANDLER_PORT":       "set by the Functions host when it starts the handler",
	"FUNCTIONS_HTTPWORKER_PORT":          "the port's legacy name, set by older hosts",
	"LANGSYNC_PRIMARY_ENDPOINT":          "one-pair form, read only when LANGSYNC_CONFIG is empty",
	"LANGSYNC_PRIMARY_STORAGE":           "one-pair form",
	"LANGSYNC_SECONDARY_ENDPOINT":        "one-pair form",
	"LANGSYNC_SECONDARY_STORAGE":         "one-pair form",
	"LANGSYNC_PROJECTS":                  "one-pair form",
	"LANGSYNC_AUTH":                      "one-pair form (entra)",
	"LANGSYNC_JOB_RETRIES":               "one-pair form",
	"LANGSYNC_UNREACHABLE_BUDGET":        "one-pair form",
	"LANGSYNC_CONVERSATIONS_API_VERSION": "one-pair form (conversations api-version of both resources)",
}

// role is a built-in Azure role: its name on Microsoft's built-in roles
// page and the key main.bicep's roles variable gives it.
type role struct{ name, key string }

// knownRoles are the role GUIDs the templates may use, each checked against
// Microsoft's built-in roles page (Azure RBAC documentation).
var knownRoles = map[string]role{
	"b7e6dc6d-f1e8-4753-8033-0f276bb0955b": {"Storage Blob Data Owner", "storageBlobDataOwner"},
	"ba92f5b4-2d11-453d-a403-e96b0029c9fe": {"Storage Blob Data Contributor", "storageBlobDataContributor"},
	"2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": {"Storage Blob Data Reader", "storageBlobDataReader"},
	"974c5e8b-45b9-4653-ba55-5f855dd0fb88": {"Storage Queue Data Contributor", "storageQueueDataContributor"},
	"69a216fc-b8fb-44d8-bc22-1f3c2cd27a39": {"Azure Service Bus Data Sender", "serviceBusDataSender"},
	"4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0": {"Azure Service Bus Data Receiver", "serviceBusDataReceiver"},
	"4633458b-17de-408a-b874-0445c86b69e6": {"Key Vault Secrets User", "keyVaultSecretsUser"},
	"3913510d-42f4-4e42-8a64-420c390055eb": {"Monitoring Metrics Publisher", "monitoringMetricsPublisher"},
	"f07febfe-79bc-46b1-8b37-790e26e6e498": {"Cognitive Services Language Owner", "languageOwner"},
}

// refusedRoles are real role GUIDs the templates must not use, and why.
var refusedRoles = map[string]string{
	"f2310ca1-dc64-4889-bb49-c8e0fa3d47a8": "Cognitive Services Language Writer: cannot deploy or delete; langsync needs Language Owner",
	"090c5cfd-751d-490a-894a-3ce6f1109419": "Azure Service Bus Data Owner: more than needed; use Data Sender + Data Receiver",
	"0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor: nothing on a Flex custom handler uses tables",
}

// grants are the role assignments the identity must get: the resource or
// module in main.bicep and the role key it must use.
var grants = []struct{ block, role string }{
	{"storageRoles", "storageBlobDataOwner"},
	{"storageRoles", "storageQueueDataContributor"},
	{"sbRoles", "serviceBusDataSender"},
	{"sbRoles", "serviceBusDataReceiver"},
	{"vaultRole", "keyVaultSecretsUser"},
	{"languageRoles", "languageOwner"},
	{"sourceStorageRoles", "storageBlobDataReader"},
	{"targetStorageRoles", "storageBlobDataContributor"},
}

var (
	guidRe        = regexp.MustCompile(`'([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})'`)
	roleEntryRe   = regexp.MustCompile(`(?m)^\s*([A-Za-z]+):\s*'([0-9a-fA-F-]{36})'`)
	settingRe     = regexp.MustCompile(`\{\s*name:\s*'([A-Za-z0-9_]+)'\s*,\s*value:`)
	apiVersionRe  = regexp.MustCompile(`'([A-Za-z]+\.[A-Za-z]+/[A-Za-z/]+)@(\d{4}-\d{2}-\d{2}[A-Za-z-]*)'`)
	queuesVarRe   = regexp.MustCompile(`(?m)^var queues = \[([^\]]*)\]`)
	quotedRe      = regexp.MustCompile(`'([^']*)'`)
	secureParamRe = regexp.MustCompile(`@secure\(\)\s*(?:@description\('(?:[^'\\]|\\.)*'\)\s*)?param (\w+) `)
	eventNameRe   = regexp.MustCompile(`'(langsync\.[a-z]+\.[a-z]+)'`)
)

// block returns the text of the top-level resource or module named name in
// a Bicep file ("" if none): from its declaration to the next top-level one.
func block(bicep, name string) string {
	re := regexp.MustCompile(`(?m)^(?:resource|module) ` + regexp.QuoteMeta(name) + ` `)
	loc := re.FindStringIndex(bicep)
	if loc == nil {
		return ""
	}
	rest := bicep[loc[1]:]
	end := regexp.MustCompile(`(?m)^(?:resource|module|output|var|param|//) `).FindStringIndex(rest)
	if end == nil {
		return bicep[loc[0]:]
	}
	return bicep[loc[0] : loc[1]+end[0]]
}

// settings returns the app settings main.bicep sets.
func settings(in *inputs) map[string]bool {
	out := map[string]bool{}
	for _, m := range settingRe.FindAllStringSubmatch(in.files["infra/main.bicep"], -1) {
		out[m[1]] = true
	}
	return out
}

// isSet reports whether setting name, or its identity form name__*, is set.
func isSet(set map[string]bool, name string) bool {
	if set[name] {
		return true
	}
	for s := range set {
		if strings.HasPrefix(s, name+"__") {
			return true
		}
	}
	return false
}

// check is one consistency rule: it returns the problems it finds.
type check struct {
	name string
	run  func(in *inputs) []string
}

var checks = []check{
	{"QueuesDeclared", func(in *inputs) []string {
		fns, bad := in.functions()
		m := queuesVarRe.FindStringSubmatch(in.files["infra/main.bicep"])
		if m == nil {
			return append(bad, "infra/main.bicep: no `var queues = [...]`")
		}
		declared := map[string]bool{}
		for _, q := range quotedRe.FindAllStringSubmatch(m[1], -1) {
			declared[q[1]] = true
		}
		read := map[string]bool{}
		for _, f := range fns {
			for _, b := range f.Bindings {
				if b.Type == "serviceBusTrigger" {
					read[b.QueueName] = true
					if !declared[b.QueueName] {
						bad = append(bad, fmt.Sprintf("functions/%s reads queue %q, which infra/main.bicep does not create", f.name, b.QueueName))
					}
				}
			}
		}
		for q := range declared {
			if !read[q] {
				bad = append(bad, fmt.Sprintf("infra/main.bicep creates queue %q, which no function reads", q))
			}
		}
		return bad
	}},
	{"BindingSettingsSet", func(in *inputs) []string {
		fns, bad := in.functions()
		set := settings(in)
		for _, f := range fns {
			for _, b := range f.Bindings {
				if b.Connection != "" && !isSet(set, b.Connection) {
					bad = append(bad, fmt.Sprintf("functions/%s: connection %q is not set (nor %s__*) in infra/main.bicep", f.name, b.Connection, b.Connection))
				}
				for _, ref := range regexp.MustCompile(`%([A-Za-z0-9_]+)%`).FindAllStringSubmatch(b.Schedule+b.Path+b.QueueName, -1) {
					if !set[ref[1]] {
						bad = append(bad, fmt.Sprintf("functions/%s: %%%s%% is not set in infra/main.bicep", f.name, ref[1]))
					}
				}
			}
		}
		return bad
	}},
	{"AppSettingsSetOrDocumented", func(in *inputs) []string {
		var bad []string
		set := settings(in)
		doc := in.files["docs/deploy.md"]
		for _, name := range in.reads {
			if isSet(set, name) {
				continue
			}
			if why, ok := optionalSettings[name]; ok {
				if !strings.Contains(doc, name) {
					bad = append(bad, fmt.Sprintf("%s is optional (%s) but docs/deploy.md does not name it", name, why))
				}
				continue
			}
			bad = append(bad, fmt.Sprintf("the binary reads %s, which infra/main.bicep does not set and deploycheck's optionalSettings does not list", name))
		}
		for _, name := range []string{"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_RUN_FROM_PACKAGE", "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING", "AzureWebJobsStorage"} {
			if set[name] {
				bad = append(bad, fmt.Sprintf("infra/main.bicep sets %s, which Flex Consumption does not allow (runtime and deployment are in functionAppConfig; host storage is by identity)", name))
			}
		}
		return bad
	}},
	{"RoleGUIDsMatchNames", func(in *inputs) []string {
		var bad []string
		for _, p := range in.bicepFiles() {
			for _, m := range guidRe.FindAllStringSubmatch(in.files[p], -1) {
				g := strings.ToLower(m[1])
				if why, ok := refusedRoles[g]; ok {
					bad = append(bad, fmt.Sprintf("%s uses role %s (%s)", p, g, why))
				} else if _, ok := knownRoles[g]; !ok {
					bad = append(bad, fmt.Sprintf("%s uses GUID %s, which is no role in deploycheck's knownRoles (add it with its name from the built-in roles page)", p, g))
				}
			}
		}
		main := in.files["infra/main.bicep"]
		i := strings.Index(main, "var roles = {")
		if i < 0 {
			return append(bad, "infra/main.bicep: no `var roles = {...}`")
		}
		j := strings.Index(main[i:], "\n}")
		for _, m := range roleEntryRe.FindAllStringSubmatch(main[i:i+j], -1) {
			r, ok := knownRoles[strings.ToLower(m[2])]
			if ok && r.key != m[1] {
				bad = append(bad, fmt.Sprintf("infra/main.bicep: roles.%s is %s, which is %q (key %s)", m[1], m[2], r.name, r.key))
			}
		}
		for _, g := range grants {
			b := block(main, g.block)
			if b == "" {
				bad = append(bad, fmt.Sprintf("infra/main.bicep: no resource or module %s (it grants %s)", g.block, g.role))
			} else if !strings.Contains(b, "roles."+g.role) {
				bad = append(bad, fmt.Sprintf("infra/main.bicep: %s does not grant roles.%s", g.block, g.role))
			}
		}
		return bad
	}},
	{"RestoreTriggerIsEventGrid", func(in *inputs) []string {
		fns, bad := in.functions()
		sub := in.files["infra/restore-events.bicep"]
		n := 0
		for _, f := range fns {
			for _, b := range f.Bindings {
				if b.Type != "blobTrigger" {
					continue
				}
				n++
				if b.Source != "EventGrid" {
					bad = append(bad, fmt.Sprintf("functions/%s: blob trigger source %q; Flex Consumption runs only \"source\": \"EventGrid\"", f.name, b.Source))
				}
				container, rest, _ := strings.Cut(b.Path, "/")
				prefix, _, _ := strings.Cut(rest, "{")
				want := "/blobServices/default/containers/${stateContainer}/blobs/" + prefix
				if !strings.Contains(sub, "subjectBeginsWith: '"+want+"'") {
					bad = append(bad, fmt.Sprintf("infra/restore-events.bicep: subjectBeginsWith is not %q (functions/%s path %s)", want, f.name, b.Path))
				}
				if !strings.Contains(sub, "param stateContainer string = '"+container+"'") || !strings.Contains(in.files["infra/main.bicep"], "var stateContainer = '"+container+"'") {
					bad = append(bad, fmt.Sprintf("the restore trigger's container %q is not stateContainer in infra/main.bicep and infra/restore-events.bicep", container))
				}
				if !strings.Contains(sub, "param functionName string = '"+f.name+"'") {
					bad = append(bad, fmt.Sprintf("infra/restore-events.bicep: functionName default is not %q", f.name))
				}
			}
		}
		if n == 0 {
			bad = append(bad, "no function has a blob trigger (restore drops)")
		}
		for _, want := range []string{"'Microsoft.Storage.BlobCreated'", "endpointType: 'WebHook'", "/runtime/webhooks/blobs?functionName=Host.Functions.${functionName}", "systemKeys.blobs_extension"} {
			if !strings.Contains(sub, want) {
				bad = append(bad, "infra/restore-events.bicep lacks "+want)
			}
		}
		if !strings.Contains(in.files["infra/main.bicep"], "'Microsoft.EventGrid/systemTopics@") {
			bad = append(bad, "infra/main.bicep creates no Event Grid system topic")
		}
		return bad
	}},
	{"FlexConsumption", func(in *inputs) []string {
		var bad []string
		main := in.files["infra/main.bicep"]
		for _, want := range []string{
			"sku: { name: 'FC1', tier: 'FlexConsumption' }",
			"runtime: { name: 'custom'",
			"type: 'blobContainer'",
			"value: '${storage.properties.primaryEndpoints.blob}${packageContainer}'",
			"type: 'UserAssignedIdentity'",
			"name: packageContainer",
			"keyVaultReferenceIdentity: identity.id",
		} {
			if !strings.Contains(main, want) {
				bad = append(bad, "infra/main.bicep lacks "+want)
			}
		}
		return bad
	}},
	{"GAAPIVersions", func(in *inputs) []string {
		var bad []string
		for _, p := range in.bicepFiles() {
			for _, m := range apiVersionRe.FindAllStringSubmatch(in.files[p], -1) {
				if strings.Contains(m[2], "preview") {
					bad = append(bad, fmt.Sprintf("%s: %s@%s is a preview API version", p, m[1], m[2]))
				}
			}
		}
		return bad
	}},
	{"KeyVault", func(in *inputs) []string {
		var bad []string
		main := in.files["infra/main.bicep"]
		if !strings.Contains(main, "enableRbacAuthorization: true") {
			bad = append(bad, "infra/main.bicep: the vault is not in RBAC mode")
		}
		secure := map[string]bool{}
		for _, m := range secureParamRe.FindAllStringSubmatch(main, -1) {
			secure[m[1]] = true
		}
		for _, p := range []string{"langsyncConfig", "primaryKey", "secondaryKey"} {
			if !secure[p] {
				bad = append(bad, fmt.Sprintf("infra/main.bicep: param %s is not @secure()", p))
			}
		}
		for _, s := range []string{"LANGSYNC_PRIMARY_KEY", "LANGSYNC_SECONDARY_KEY"} {
			if !regexp.MustCompile(`name: '` + s + `', value: '@Microsoft\.KeyVault\(SecretUri=`).MatchString(main) {
				bad = append(bad, fmt.Sprintf("infra/main.bicep: %s is not a Key Vault reference", s))
			}
		}
		return bad
	}},
	{"AzureYAML", func(in *inputs) []string {
		var bad []string
		y := in.files["azure.yaml"]
		main := in.files["infra/main.bicep"]
		svc := regexp.MustCompile(`'azd-service-name': '([^']+)'`).FindStringSubmatch(main)
		if svc == nil {
			bad = append(bad, "infra/main.bicep: the app has no azd-service-name tag")
		} else if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(svc[1]) + `:$`).MatchString(y) {
			bad = append(bad, fmt.Sprintf("azure.yaml: no service %q (the app's azd-service-name)", svc[1]))
		}
		dir := regexp.MustCompile(`(?m)^APP_DIR \?= (\S+)$`).FindStringSubmatch(in.files["Makefile"])
		if dir == nil || !strings.Contains(y, "dist: "+dir[1]+"\n") {
			bad = append(bad, "azure.yaml: dist is not the Makefile's APP_DIR")
		}
		for _, want := range []string{"language: custom", "host: function", "run: make app", "path: infra", "module: main"} {
			if !strings.Contains(y, want) {
				bad = append(bad, "azure.yaml lacks "+want)
			}
		}
		if m := regexp.MustCompile(`run: sh (\S+)`).FindStringSubmatch(y); m == nil || in.files[m[1]] == "" {
			bad = append(bad, "azure.yaml: the postdeploy hook does not run a script under infra/")
		} else {
			for _, out := range regexp.MustCompile(`\$\{?([A-Z_]+)`).FindAllStringSubmatch(in.files[m[1]], -1) {
				if !strings.Contains(main, "output "+out[1]+" ") {
					bad = append(bad, fmt.Sprintf("%s reads %s, which infra/main.bicep does not output", m[1], out[1]))
				}
			}
		}
		return bad
	}},
	{"HostJSON", func(in *inputs) []string {
		var h struct {
			CustomHandler struct {
				Description struct {
					DefaultExecutablePath string   `json:"defaultExecutablePath"`
					Arguments             []string `json:"arguments"`
				} `json:"description"`
			} `json:"customHandler"`
		}
		if err := json.Unmarshal([]byte(in.files["host.json"]), &h); err != nil {
			return []string{"host.json: " + err.Error()}
		}
		var bad []string
		exe := h.CustomHandler.Description.DefaultExecutablePath
		if !strings.Contains(in.files["Makefile"], "-o $(APP_DIR)/"+exe+" ./cmd/langsync") {
			bad = append(bad, fmt.Sprintf("host.json runs %q, which `make app` does not build", exe))
		}
		if !slices.Equal(h.CustomHandler.Description.Arguments, []string{"serve"}) {
			bad = append(bad, fmt.Sprintf("host.json arguments %v, want [serve]", h.CustomHandler.Description.Arguments))
		}
		return bad
	}},
	{"AlertEventsDefined", func(in *inputs) []string {
		var bad []string
		obs := in.files["docs/observability.md"]
		i := strings.Index(obs, "\n## Events")
		if i < 0 {
			return []string{"docs/observability.md has no \"## Events\" section"}
		}
		events := obs[i:]
		if j := strings.Index(events[1:], "\n## "); j >= 0 {
			events = events[:j+1]
		}
		n := 0
		for _, m := range eventNameRe.FindAllStringSubmatch(in.files["infra/alerts.bicep"], -1) {
			n++
			if !strings.Contains(events, "`"+m[1]+"`") {
				bad = append(bad, fmt.Sprintf("infra/alerts.bicep alerts on event %s, which docs/observability.md#events does not define", m[1]))
			}
		}
		if n == 0 {
			bad = append(bad, "infra/alerts.bicep names no langsync event")
		}
		for _, want := range []string{"metricName: 'DeadletteredMessages'", "emailReceivers"} {
			if !strings.Contains(in.files["infra/alerts.bicep"], want) {
				bad = append(bad, "infra/alerts.bicep lacks "+want)
			}
		}
		return bad
	}},
}

// TestDeploymentConsistent runs every check on the repository as it is.
func TestDeploymentConsistent(t *testing.T) {
	in := load(t)
	if len(in.reads) == 0 {
		t.Fatal("found no app setting names in the Go source: readSources moved?")
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			for _, p := range c.run(in) {
				t.Error(p)
			}
		})
	}
}

// TestChecksSeeMismatches seeds one mismatch per row into a copy of the
// inputs and expects the named check to report it, so a pass means
// something.
func TestChecksSeeMismatches(t *testing.T) {
	base := load(t)
	replace := func(path, old, new string) func(*inputs) {
		return func(in *inputs) {
			if !strings.Contains(in.files[path], old) {
				t.Fatalf("seed: %s does not contain %q", path, old)
			}
			in.files[path] = strings.Replace(in.files[path], old, new, 1)
		}
	}
	cases := []struct {
		name, check string
		mutate      func(*inputs)
	}{
		{"QueueMissing", "QueuesDeclared", replace("infra/main.bicep", "'langsync-train', ", "")},
		{"QueueRenamedInFunction", "QueuesDeclared", replace("functions/deploy/function.json", `"langsync-deploy"`, `"langsync-deploy2"`)},
		{"ConnectionUnset", "BindingSettingsSet", replace("functions/export/function.json", `"LANGSYNC_SERVICEBUS"`, `"LANGSYNC_BUS"`)},
		{"ScheduleUnset", "BindingSettingsSet", replace("infra/main.bicep", "name: 'LANGSYNC_SCHEDULE'", "name: 'LANGSYNC_CRON'")},
		{"NewSettingRead", "AppSettingsSetOrDocumented", func(in *inputs) { in.reads = append(in.reads, "LANGSYNC_NEW_KNOB") }},
		{"StoreUnset", "AppSettingsSetOrDocumented", replace("infra/main.bicep", "name: 'LANGSYNC_STORE'", "name: 'LANGSYNC_STORE_URL'")},
		{"OptionalUndocumented", "AppSettingsSetOrDocumented", func(in *inputs) {
			in.files["docs/deploy.md"] = strings.ReplaceAll(in.files["docs/deploy.md"], "LANGSYNC_JOB_RETRIES", "")
		}},
		{"WorkerRuntimeOnFlex", "AppSettingsSetOrDocumented", replace("infra/main.bicep", "var baseSettings = [", "var baseSettings = [\n  { name: 'FUNCTIONS_WORKER_RUNTIME', value: 'custom' }")},
		{"LanguageWriterGUID", "RoleGUIDsMatchNames", replace("infra/main.bicep", "f07febfe-79bc-46b1-8b37-790e26e6e498", "f2310ca1-dc64-4889-bb49-c8e0fa3d47a8")},
		{"ReceiverGUIDUnknown", "RoleGUIDsMatchNames", replace("infra/main.bicep", "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0", "4f6d3b08-7a2e-4d95-a69a-a7b4b7db4a8f")},
		{"SwappedReaderContributor", "RoleGUIDsMatchNames", replace("infra/main.bicep", "storageBlobDataReader: '2a2b9908", "storageBlobDataReader: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe' // '2a2b9908")},
		{"TargetStorageGetsReader", "RoleGUIDsMatchNames", replace("infra/main.bicep", "roleDefinitionId: roles.storageBlobDataContributor", "roleDefinitionId: roles.storageBlobDataReader")},
		{"ServiceBusDataOwner", "RoleGUIDsMatchNames", replace("infra/main.bicep", "serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'", "serviceBusDataSender: '090c5cfd-751d-490a-894a-3ce6f1109419'")},
		{"PollingBlobTrigger", "RestoreTriggerIsEventGrid", replace("functions/restore/function.json", `"source": "EventGrid",`, ``)},
		{"RestorePrefixMoved", "RestoreTriggerIsEventGrid", replace("functions/restore/function.json", `langsync-state/restore/{name}`, `langsync-state/drops/{name}`)},
		{"WrongEventType", "RestoreTriggerIsEventGrid", replace("infra/restore-events.bicep", "'Microsoft.Storage.BlobCreated'", "'Microsoft.Storage.BlobDeleted'")},
		{"LinuxConsumption", "FlexConsumption", replace("infra/main.bicep", "sku: { name: 'FC1', tier: 'FlexConsumption' }", "sku: { name: 'Y1', tier: 'Dynamic' }")},
		{"DeploymentByKey", "FlexConsumption", replace("infra/main.bicep", "type: 'UserAssignedIdentity'", "type: 'StorageAccountConnectionString'")},
		{"PreviewAPI", "GAAPIVersions", replace("infra/main.bicep", "Microsoft.ServiceBus/namespaces@2021-11-01", "Microsoft.ServiceBus/namespaces@2022-10-01-preview")},
		{"ConfigNotSecure", "KeyVault", replace("infra/main.bicep", "@secure()\n@description('langsync configuration", "@description('langsync configuration")},
		{"KeyInline", "KeyVault", replace("infra/main.bicep", "name: 'LANGSYNC_PRIMARY_KEY', value: '@Microsoft.KeyVault(SecretUri=${primaryKeySecret!.properties.secretUri})'", "name: 'LANGSYNC_PRIMARY_KEY', value: primaryKey")},
		{"VaultAccessPolicies", "KeyVault", replace("infra/main.bicep", "enableRbacAuthorization: true", "enableRbacAuthorization: false")},
		{"AzdServiceRenamed", "AzureYAML", replace("azure.yaml", "\n  langsync:\n", "\n  app:\n")},
		{"AzdDistElsewhere", "AzureYAML", replace("azure.yaml", "dist: dist/app\n", "dist: build\n")},
		{"HookReadsMissingOutput", "AzureYAML", replace("infra/main.bicep", "output LANGSYNC_EVENTGRID_TOPIC ", "output EVENTGRID_TOPIC ")},
		{"ExecutableRenamed", "HostJSON", replace("host.json", `"defaultExecutablePath": "langsync"`, `"defaultExecutablePath": "handler"`)},
		{"EventUndefined", "AlertEventsDefined", replace("infra/alerts.bicep", "'langsync.sync.completed'", "'langsync.sync.finished'")},
		{"NoDeadLetterAlert", "AlertEventsDefined", replace("infra/alerts.bicep", "metricName: 'DeadletteredMessages'", "metricName: 'ActiveMessages'")},
	}
	byName := map[string]check{}
	for _, c := range checks {
		byName[c.name] = c
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := byName[tc.check]
			if !ok {
				t.Fatalf("no check %s", tc.check)
			}
			covered[tc.check] = true
			in := base.clone()
			tc.mutate(in)
			if got := c.run(in); len(got) == 0 {
				t.Errorf("%s found nothing wrong after the seeded mismatch", tc.check)
			} else {
				t.Logf("%s: %s", tc.check, strings.Join(got, "; "))
			}
		})
	}
	for _, c := range checks {
		if !covered[c.name] {
			t.Errorf("check %s has no seeded mismatch", c.name)
		}
	}
}
