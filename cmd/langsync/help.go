package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// page is one command's help, printed by `langsync <command> --help`. Every
// command and subcommand has one (TestEveryCommandHasAManPage walks them),
// so the help a user reads and the flags a command parses cannot drift.
type page struct {
	// Synopsis is the command line after "langsync "; further lines are
	// alternative forms.
	Synopsis string
	// Summary is the one line a group's page lists for a subcommand.
	Summary string
	// About says what the command does, what it touches and what it prints.
	About string
	// Subs are a group's subcommands, in the order they are listed.
	Subs []string
	// Flags, for a subcommand that shares its group's flag set, are the
	// flags that apply to it; empty means all of them.
	Flags []string
	// Examples are shown with a comment line each.
	Examples []example
	// Exit1 says what exit code 1 means for this command.
	Exit1 string
	// Exit3, when set, is what exit code 3 means (status: alerting).
	Exit3 string
}

type example struct{ What, Cmd string }

// exitLine is the exit-code promise every page repeats (README.md has it).
func (p page) exitLine() string {
	one := p.Exit1
	if one == "" {
		one = "the operation failed (the message says why and what to do)"
	}
	three := ""
	if p.Exit3 != "" {
		three = "; 3 " + p.Exit3
	}
	return "Exit codes: 0 success; 1 " + one + "; 2 usage or config error" + three + "; 130 interrupted."
}

// printPage prints the manual page of path ("backups list") with the flags
// of fs (nil for a group without flags of its own).
func printPage(w io.Writer, path string, fs *flag.FlagSet) {
	p, ok := manual[path]
	if !ok {
		// A command without a page is a bug that the manual test catches;
		// still print something useful.
		p = page{Synopsis: path + " [flags]"}
	}
	for i, l := range strings.Split(strings.TrimSpace(p.Synopsis), "\n") {
		if i == 0 {
			fmt.Fprintf(w, "Usage: langsync %s\n", strings.TrimSpace(l))
		} else {
			fmt.Fprintf(w, "       langsync %s\n", strings.TrimSpace(l))
		}
	}
	if p.About != "" {
		fmt.Fprintf(w, "\n%s", wrap(p.About, "", 80))
	}
	if len(p.Subs) > 0 {
		fmt.Fprintf(w, "\nSubcommands:\n")
		for _, s := range p.Subs {
			fmt.Fprintf(w, "  %-13s %s", s, strings.TrimPrefix(wrap(manual[path+" "+s].Summary, strings.Repeat(" ", 16), 80), strings.Repeat(" ", 16)))
		}
	}
	if fs != nil && hasFlags(fs, p.Flags) {
		fmt.Fprintf(w, "\nFlags:\n")
		printFlags(w, fs, p.Flags)
	}
	if len(p.Examples) > 0 {
		fmt.Fprintf(w, "\nExamples:\n")
		for i, e := range p.Examples {
			if i > 0 {
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "  # %s\n  %s\n", e.What, e.Cmd)
		}
	}
	fmt.Fprintf(w, "\n%s", wrap(p.exitLine(), "", 80))
	if len(p.Subs) > 0 {
		fmt.Fprintf(w, "Run 'langsync %s <subcommand> --help' for a subcommand's flags and examples.\n", path)
	}
}

func hasFlags(fs *flag.FlagSet, only []string) bool {
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		if keep(only, f.Name) {
			n++
		}
	})
	return n > 0
}

func keep(only []string, name string) bool {
	if len(only) == 0 {
		return true
	}
	for _, o := range only {
		if o == name {
			return true
		}
	}
	return false
}

// printFlags prints fs's flags as users type them (--name VALUE), with the
// usage wrapped under each; only those in only when it is not empty.
func printFlags(w io.Writer, fs *flag.FlagSet, only []string) {
	fs.VisitAll(func(f *flag.Flag) {
		if !keep(only, f.Name) {
			return
		}
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if len(f.Name) == 1 {
			line = "  -" + f.Name
		}
		if name != "" {
			line += " " + name
		}
		switch f.DefValue {
		case "", "0", "0s", "false", "[]":
		default:
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "%s\n%s", line, wrap(usage, "      ", 80))
	})
}

// wrap reflows text into lines of at most width characters, each starting
// with indent; blank lines separate paragraphs.
func wrap(text, indent string, width int) string {
	var b strings.Builder
	for i, para := range strings.Split(strings.TrimSpace(text), "\n\n") {
		if i > 0 {
			b.WriteString("\n")
		}
		line := indent
		for _, word := range strings.Fields(para) {
			if len(line) > len(indent) && len(line)+1+len(word) > width {
				b.WriteString(line + "\n")
				line = indent
			}
			if len(line) > len(indent) {
				line += " "
			}
			line += word
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// commonConfig is the sentence every command that reads langsync.yaml shares.
const commonConfig = "The config file names the resources, the projects with their source and targets, the store and the containers (docs/pipeline.md#configuration); ${VAR} in it reads the environment."

// manual holds every page, keyed by command path.
var manual = map[string]page{
	"version": {
		Synopsis: "version",
		About:    "Prints the version, operating system and architecture of this binary. `langsync --version` does the same.",
		Examples: []example{{"which build is installed", "langsync version"}},
	},
	"completion": {
		Synopsis: "completion bash|zsh|fish",
		About:    "Prints a shell completion script built from the command table: command names, subcommand names and each command's flags.",
		Examples: []example{
			{"enable completion in the current bash or zsh session", "source <(langsync completion bash)"},
			{"install it for fish", "langsync completion fish > ~/.config/fish/completions/langsync.fish"},
		},
	},
	"replicate": {
		Synopsis: "replicate --config F [--project P] [--target T] [--json]",
		About: `Replicates each configured project from its source resource to its targets now, whether or
not it changed: export, back up (a verified archive in the backup container), import, train,
deploy, verify with the probe texts. One run per source project; its targets proceed in
parallel. A progress line per step goes to stdout; state lives in the store, so an interrupted
replicate is continued by the next one (or by sync, local or the Functions app), never started
twice. --project and --target must name configured ones. ` + commonConfig,
		Examples: []example{
			{"replicate every configured project", "langsync replicate --config langsync.yaml"},
			{"only Tickets, only to the secondary, as JSON for a script", "langsync replicate --config langsync.yaml --project Tickets --target secondary --json"},
		},
		Exit1: "a run failed (each failed run is named with its step and error)",
	},
	"sync": {
		Synopsis: "sync --config F [--dry-run] [--json]",
		About: `Runs the scheduled change check once, as the timer function does: for each configured pair it
compares the source project's fingerprint (its export, and its trained model) with what was
last replicated, and replicates only what changed. It prints each decision with its reason
(changed, in sync, run in progress, source has no trained model, ...). --dry-run decides and
starts nothing. ` + commonConfig,
		Examples: []example{
			{"see what the daily sync would do", "langsync sync --config langsync.yaml --dry-run"},
			{"run it and keep the decisions as one JSON document", "langsync sync --config langsync.yaml --json > sync.json"},
		},
		Exit1: "a started run failed or a pair could not be checked",
	},
	"status": {
		Synopsis: "status --config F [--json]",
		About: `Shows each pair (source project -> target): when it was last replicated, the fingerprint,
the lag (how long the target has lacked the source's newest change), the active run with its
step, quarantined backups, expiry and the last error. Reads the run state in the store and,
with GETs only, the projects, models and deployments. Errors longer than the ERROR column are
printed whole below the table. A pair past alerts.maxLag or with something expiring within its
expiry warning window is listed under ALERTS (alerts in --json), and status then exits 3 after
printing everything, so a script or a monitor can act on it. ` + commonConfig,
		Examples: []example{
			{"the table", "langsync status --config langsync.yaml"},
			{"the lag of every pair, for a script", "langsync status --config langsync.yaml --json | jq '.[] | {project: .pair.project, target: .pair.target, lastReplicated}'"},
		},
		Exit1: "the store could not be read (one that does not answer fails after 4 tries of 10 s, a line per retry on stderr)",
		Exit3: "a pair is alerting (lag over alerts.maxLag, or an expiry within the window)",
	},
	"restore": {
		Synopsis: `restore --config F --backup ID --to RESOURCE [--as NAME] [--deployment D ...] [--replace] [--dry-run] [--json]
restore --config F --project P --at TIME --to RESOURCE [--as NAME] [--deployment D ...] [--replace] [--dry-run] [--json]`,
		About: `Restores a backup into any configured resource: a point in time (--at: the newest verified
backup taken at or before it), under another name (--as), over an existing project only with
--replace. The backup is verified before anything changes; then import, train on the model's
training config, deploy. It prints the plan first; a plan line marked STOP means the restore
would refuse (for example the project exists and --replace was not given). --dry-run prints the
plan and changes nothing. ` + commonConfig,
		Examples: []example{
			{"preflight: would restoring Tickets as of 20 November into the secondary work?", "langsync restore --config langsync.yaml --project Tickets --at 2026-11-20 --to secondary --as TicketsOld --dry-run"},
			{"restore one backup by its blob name", "langsync restore --config langsync.yaml --backup primary/Tickets/20261120T020000Z-0123456789ab.tar.gz --to secondary --as TicketsOld"},
		},
		Exit1: "the restore failed, or --dry-run's plan contains STOP",
	},
	"classify": {
		Synopsis: "classify --config F --project P [--deployment D] [--kind single|multi|ner] [--json] TEXT...|-",
		About: `Predicts texts with a deployed project through the failover client: the project's source
resource first, then its targets in order when a resource fails (connection errors, 5xx, 429
after its Retry-After) behind a circuit breaker. Each text's prediction is printed, then a footer
saying which endpoint answered and why. With - the texts are read from stdin, one per line (at
most 500,000 bytes a line). ` + commonConfig,
		Examples: []example{
			{"classify one text", `langsync classify --config langsync.yaml --project Tickets --deployment production "my bill is wrong"`},
			{"classify a file of texts, one per line", "langsync classify --config langsync.yaml --project Tickets - < texts.txt"},
		},
		Exit1: "no resource could answer",
	},
	"local": {
		Synopsis: "local --config F [--listen ADDR] [--sync-now] [--workers N] [--log-format auto|text|json] [-v]",
		About: `Runs langsync as a long-running process on one machine, without Azure Functions: the sync
schedule (schedule: in the config), the runs it starts and their wake-ups, and restores of backups
dropped under the store's restore/ folder. Logs go to stderr, as JSON when stderr is not a
terminal. It stops cleanly on Ctrl-C or SIGTERM; runs in flight are continued at the next start.
With --listen it serves GET /metrics (Prometheus text), /healthz, /status (the JSON of status
--json) and / (the HTML status page) on ADDR; the metrics are also pushed over OTLP/HTTP when
OTEL_EXPORTER_OTLP_ENDPOINT is set. After each scheduled sync it pings heartbeat.url (or its
/fail). ` + commonConfig,
		Examples: []example{
			{"run the host with the change check at start-up", "langsync local --config langsync.yaml --sync-now"},
			{"also serve the status page and metrics on this machine", "langsync local --config langsync.yaml --listen 127.0.0.1:9464"},
		},
		Exit1: "the host could not start (the store or a queue could not be opened)",
	},
	"demo": {
		Synopsis: "demo [--dir D] [--keep] [--azurite PATH] [--train-duration 1s]",
		About: `Runs the whole job on emulators, no Azure account: two Language emulators (primary,
secondary) and Azurite on free loopback ports, a 200-ticket sample loaded into the primary, then
replicate, status, sync after a change (replicates) and again (skips), a restore of an older
backup under another name, and classify with the primary up and down. It stops everything it
started and names the step that failed. make demo builds and runs it.`,
		Examples: []example{
			{"run the demo and keep its config, documents and logs", "langsync demo --dir /tmp/langsync-demo"},
		},
		Exit1: "a demo step failed (it is named)",
	},
	"serve": {
		Synopsis: "serve [--grace 30s]",
		About: `Runs langsync as an Azure Functions custom handler: listens on
127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT and serves the sync, export, import, train, deploy,
restore and status functions (functions/*/function.json). The Functions host starts it
(host.json); you do not run it by hand except to test. Configuration comes from app settings:
LANGSYNC_CONFIG (or the one-pair LANGSYNC_* settings), LANGSYNC_STORE and LANGSYNC_SERVICEBUS
(a connection string, or NAME.servicebus.windows.net with managed identity; also read from
LANGSYNC_SERVICEBUS__fullyQualifiedNamespace; a serviceBus key in the config wins). Logs are
JSON lines on stdout with run, project and step.`,
		Examples: []example{
			{"what the Functions host runs (host.json's defaultExecutablePath)", "FUNCTIONS_CUSTOMHANDLER_PORT=7071 LANGSYNC_CONFIG=\"$(cat langsync.yaml)\" langsync serve"},
		},
		Exit1: "the handler could not start",
	},

	"emulator": {
		Synopsis: "emulator <language|servicebus> [flags]",
		About:    "Runs a local stand-in for an Azure service on loopback, for tests and demos. Each speaks the service's real wire contract, so the same clients (langsync's, and Microsoft's SDKs) talk to it unchanged.",
		Subs:     []string{"language", "servicebus"},
		Examples: []example{{"a Language resource on port 7001", "langsync emulator language --key k1 --addr 127.0.0.1:7001"}},
	},
	"emulator language": {
		Synopsis: `emulator language --key KEY [--addr 127.0.0.1:7001] [--docs-dir DIR | --storage CONN] [--data-dir DIR]
                  [--job-duration export=200ms,import=200ms,train=2s,deploy=500ms] [--faults ...]`,
		Summary: "an Azure AI Language resource (custom text authoring + runtime) on loopback",
		About: `Serves the Language authoring and runtime REST API (custom text classification, single- and
multi-label, and custom NER) on loopback: projects, import/export, training with a deterministic
trainer, deployments, jobs and analyze-text. Labelled documents are read from --docs-dir or the
linked storage (--storage). --faults injects what a real resource does under stress (429,
5xx, latency, dropped connections, failed jobs, down) to test failover and retries.`,
		Examples: []example{
			{"a resource whose training takes 2 s, state kept across restarts", "langsync emulator language --key k1 --addr 127.0.0.1:7001 --docs-dir ./docs --data-dir ./state --job-duration train=2s"},
		},
		Exit1: "the emulator could not start (e.g. the address is in use)",
	},
	"emulator servicebus": {
		Synopsis: `emulator servicebus [--addr 127.0.0.1:5672] [--queues langsync-export,...] [--max-delivery-count 10]
                    [--lock-duration 1m] [--duplicate-window 10m] [--key KEY] [--config Config.json]`,
		Summary: "an Azure Service Bus namespace (AMQP 1.0, queues) for the unmodified azservicebus client",
		About: `Serves a Service Bus namespace over AMQP 1.0 (plain TCP, no TLS) with queues, peek-lock,
scheduled messages, duplicate detection and dead-letter queues, so the unmodified azservicebus
client (and the Functions app) talks to it with a connection string that has
UseDevelopmentEmulator=true.`,
		Examples: []example{
			{"langsync's queues on the default port", "langsync emulator servicebus --addr 127.0.0.1:5672"},
		},
		Exit1: "the emulator could not start (e.g. the address is in use)",
	},

	"project": {
		Synopsis: "project <list|show|export|import|train|deploy|delete> [flags]",
		About: `Drives one Language resource by hand through the authoring REST API, the same calls the
pipeline makes. Every subcommand takes --endpoint URL and --key KEY (default $LANGSYNC_ENDPOINT
and $LANGSYNC_KEY) or --entra (Microsoft Entra ID), --api-version, --conversations-api-version
and --json. Job commands (export, import, train, deploy, delete) wait with a progress line on
stderr unless --no-wait. --conversations-api-version is the api-version of CLU and orchestration
projects: 2023-04-01 (the default, served by every region) or 2025-11-01 (the newer GA version;
default $LANGSYNC_CONVERSATIONS_API_VERSION); text projects always use --api-version.`,
		Subs: []string{"list", "show", "export", "import", "train", "deploy", "delete"},
		Examples: []example{
			{"list the projects of a resource", "LANGSYNC_ENDPOINT=https://contoso-eastus.cognitiveservices.azure.com LANGSYNC_KEY=... langsync project list"},
		},
	},
	"project list": {
		Synopsis: "project list --endpoint URL --key KEY [--api-version V] [--json]",
		Summary:  "list the resource's projects",
		About:    "Lists the resource's projects with their kind, language and last modified time: custom text projects (analyze-text) and conversation projects (CLU and orchestration, analyze-conversations) in one table.",
		Examples: []example{{"the projects of the primary", "langsync project list --endpoint https://contoso-eastus.cognitiveservices.azure.com --key $PRIMARY_KEY"}},
	},
	"project show": {
		Synopsis: "project show PROJECT --endpoint URL --key KEY [--api-version V] [--json]",
		Summary:  "show a project with its models and deployments",
		About:    "Shows one project with its trained models (training config version, expiration) and its deployments.",
		Examples: []example{{"Tickets, as JSON", "langsync project show Tickets --json"}},
	},
	"project export": {
		Synopsis: "project export PROJECT [--model LABEL] [-o FILE] --endpoint URL --key KEY [--api-version V] [--json]",
		Summary:  "export a project's JSON (to FILE or stdout)",
		About:    "Starts an export job, waits for it and writes the exported project JSON (the service's import format) to FILE or stdout.",
		Examples: []example{{"export Tickets to a file", "langsync project export Tickets -o tickets.json"}},
	},
	"project import": {
		Synopsis: "project import PROJECT FILE --endpoint URL --key KEY [--api-version V] [--json]",
		Summary:  "import an exported project JSON into PROJECT",
		About:    "Imports an exported project JSON into PROJECT (created, or replaced if it exists) and waits for the import job. The labelled documents must already be in the resource's linked storage.",
		Examples: []example{{"import an export under another name", "langsync project import TicketsCopy tickets.json"}},
	},
	"project train": {
		Synopsis: "project train PROJECT --model LABEL [--config-version V] [--eval percentage|manual] [--split N] --endpoint URL --key KEY [--api-version V] [--json]",
		Summary:  "train a model",
		About:    "Starts a training job for the model LABEL and waits for it. Training is billed per hour by the service.",
		Examples: []example{{"train model v2 with an 80/20 split", "langsync project train Tickets --model v2 --eval percentage --split 80"}},
	},
	"project deploy": {
		Synopsis: "project deploy PROJECT DEPLOYMENT --model LABEL --endpoint URL --key KEY [--api-version V] [--json]",
		Summary:  "deploy a trained model",
		About:    "Deploys (or redeploys) the trained model LABEL as DEPLOYMENT and waits for the deployment job.",
		Examples: []example{{"serve model v2 as production", "langsync project deploy Tickets production --model v2"}},
	},
	"project delete": {
		Synopsis: "project delete PROJECT --endpoint URL --key KEY [--api-version V] [--json]",
		Summary:  "delete a project",
		About:    "Deletes the project, its models and deployments, and waits for the deletion job. It cannot be undone: keep a backup (langsync backups list).",
		Examples: []example{{"delete a scratch copy", "langsync project delete TicketsCopy"}},
	},

	"backups": {
		Synopsis: "backups <list|show|verify|prune|quarantine|unquarantine|delete> --config F [--project P] [--json]",
		About: `Manages the backups in the backup container: every export langsync takes is kept there as a
self-contained archive (project JSON, labelled documents, model metadata, checksums). ID is a
blob name (<source>/<project>/<time>-<sha>.tar.gz) or, with --project, <time>-<sha>. ` + commonConfig,
		Subs:     []string{"list", "show", "verify", "prune", "quarantine", "unquarantine", "delete"},
		Examples: []example{{"the backups of Tickets", "langsync backups list --config langsync.yaml --project Tickets"}},
	},
	"backups list": {
		Synopsis: "backups list --config F [--project P] [--json]",
		Summary:  "the backups, oldest first; quarantined ones are marked",
		About:    "Lists the backups, oldest first, with their time, project, model, size and verification; quarantined ones are marked with their reason.",
		Flags:    []string{"config", "project", "json"},
		Examples: []example{{"every backup as JSON", "langsync backups list --config langsync.yaml --json"}},
	},
	"backups show": {
		Synopsis: "backups show ID --config F [--project P] [--json]",
		Summary:  "one backup's manifest (downloads and verifies it)",
		About:    "Downloads one backup, verifies it as restore would, and prints its manifest: project, model, training config version, documents and checksums.",
		Flags:    []string{"config", "project", "json"},
		Examples: []example{{"a backup by its short id", "langsync backups show 20261120T020000Z-0123456789ab --project Tickets --config langsync.yaml"}},
	},
	"backups verify": {
		Synopsis: "backups verify [ID...] --config F [--project P] [--json]",
		Summary:  "re-read backups and check them as restore reads them; one that fails is quarantined",
		About:    "Reads backups again and checks them as restore reads them (default: all of --project, or all). A backup that fails is quarantined, never deleted.",
		Flags:    []string{"config", "project", "json"},
		Examples: []example{{"check every backup of Tickets", "langsync backups verify --project Tickets --config langsync.yaml"}},
		Exit1:    "a backup failed verification (it is named and quarantined)",
	},
	"backups prune": {
		Synopsis: "backups prune [--dry-run] [--reverify] [--keep-last N] [--keep-days D] --config F [--project P] [--json]",
		Summary:  "apply the retention policy (config retention, or the flags)",
		About: `Applies the retention policy (retention: in the config, or the flags): only verified backups
count, the newest verified backup of each project and model always stays, and a backup that
fails verification is quarantined, never deleted.`,
		Flags:    []string{"config", "project", "json", "dry-run", "reverify", "keep-last", "keep-days"},
		Examples: []example{{"what keeping the last 10 would delete", "langsync backups prune --keep-last 10 --dry-run --config langsync.yaml"}},
	},
	"backups quarantine": {
		Synopsis: "backups quarantine ID --reason R --config F [--project P] [--json]",
		Summary:  "set a backup aside: kept, but never reused, restored by time or pruned",
		About:    "Sets a backup aside with a reason: it is kept, but never reused, never chosen by restore --at and never pruned.",
		Flags:    []string{"config", "project", "json", "reason"},
		Examples: []example{{"set aside a backup taken from bad labels", `langsync backups quarantine primary/Tickets/20261120T020000Z-0123456789ab.tar.gz --reason "mislabelled batch" --config langsync.yaml`}},
	},
	"backups unquarantine": {
		Synopsis: "backups unquarantine ID --config F [--project P] [--json]",
		Summary:  "take a backup out of quarantine (it is verified again before use)",
		About:    "Takes a backup out of quarantine; it is verified again before it is used.",
		Flags:    []string{"config", "project", "json"},
		Examples: []example{{"release a backup", "langsync backups unquarantine primary/Tickets/20261120T020000Z-0123456789ab.tar.gz --config langsync.yaml"}},
	},
	"backups delete": {
		Synopsis: "backups delete ID --yes [--force] --config F [--project P] [--json]",
		Summary:  "delete one backup; the newest verified one of a project and model only with --force",
		About:    "Deletes one backup, quarantined or not. It cannot be undone, so --yes is required; the newest verified backup of a project and model is deleted only with --force.",
		Flags:    []string{"config", "project", "json", "yes", "force"},
		Examples: []example{{"delete a quarantined backup", "langsync backups delete primary/Tickets/20261120T020000Z-0123456789ab.tar.gz --yes --config langsync.yaml"}},
	},

	"enqueue": {
		Synopsis: "enqueue <replicate|restore> [flags]",
		About: `Sends a request message to the Azure Functions app's Service Bus queues, to force a
replication or a restore now: replicate -> langsync-export, restore -> langsync-import. The
Service Bus is LANGSYNC_SERVICEBUS (a connection string, or NAME.servicebus.windows.net with
DefaultAzureCredential) unless --servicebus is given. The app does the work; follow it with
langsync status.`,
		Subs:     []string{"replicate", "restore"},
		Examples: []example{{"replicate Tickets now", "LANGSYNC_SERVICEBUS=contoso-langsync.servicebus.windows.net langsync enqueue replicate --project Tickets"}},
	},
	"enqueue replicate": {
		Synopsis: "enqueue replicate --project P [--source S] [--targets T1,T2] [--servicebus S] [--json]",
		Summary:  `ask the app to replicate a project now ({"project":...} to langsync-export)`,
		About:    `Sends {"project":...} (with source and targets when given) to langsync-export: the app replicates the project now, whether or not it changed.`,
		Examples: []example{{"replicate Tickets to the secondary only", "langsync enqueue replicate --project Tickets --targets secondary"}},
		Exit1:    "the message could not be sent (a namespace that does not answer fails after 4 attempts of 10 s, a line per retry on stderr)",
	},
	"enqueue restore": {
		Synopsis: `enqueue restore --backup ID --target R [--as NAME] [--replace] [--servicebus S] [--json]
enqueue restore --project P --at TIME --target R [--as NAME] [--replace] [--servicebus S] [--json]`,
		Summary: `ask the app to restore a backup ({"backup":...} or {"project":...,"at":...} to langsync-import)`,
		About:   `Sends a restore request to langsync-import: one backup by its blob name, or a project's newest verified backup at or before --at (the same time syntax as langsync restore --at).`,
		Examples: []example{
			{"restore Tickets as of 20 November under another name", "langsync enqueue restore --project Tickets --at 2026-11-20 --target secondary --as TicketsOld"},
		},
		Exit1: "the message could not be sent (a namespace that does not answer fails after 4 attempts of 10 s, a line per retry on stderr)",
	},
}

// isHelp reports whether a group command's first argument asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}
