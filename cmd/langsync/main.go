// Command langsync keeps disaster-recovery replicas of Azure AI Language
// custom projects in a second region and keeps every export as a verified
// backup. One binary: CLI, emulators, local host, Azure Functions custom
// handler and AWS Lambda function.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/langsync/langsync/shared/app"
	"github.com/langsync/langsync/shared/authoring"
	"github.com/langsync/langsync/shared/blobstore/storeopen"
	"github.com/langsync/langsync/shared/queue"
)

// Version is set at build time with -ldflags "-X main.Version=...".
var Version = "dev"

// Exit codes, as README.md promises.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
	// exitAlert: `status` printed its report and a pair is alerting (lag
	// over alerts.maxLag, or an expiry within the window).
	exitAlert   = 3
	exitSignals = 130
)

// alertError makes `status` exit 3 after a complete report.
type alertError struct{ pairs int }

func (e *alertError) Error() string {
	return fmt.Sprintf("%d pair(s) alerting (exit 3; see ALERTS above or alerts in --json)", e.pairs)
}

// Env is what a command may touch of the outside world; tests give their own.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string

	// tuneBlob and tuneQueue, if set, adjust the store and Service Bus
	// options of this run (tests shorten the retry bounds; per run, so
	// nothing leaks between tests).
	tuneBlob  func(*storeopen.Options)
	tuneQueue func(*queue.Options)

	// Test seams, set per invocation rather than in package variables so
	// that concurrent invocations (and goroutines outliving a test) cannot
	// race: appOptions adjusts the app a command builds (serve, Lambda,
	// local, replicate, sync); listening is told the address serve listens on.
	appOptions func(*app.Options)
	listening  func(addr string)

	// budget, if set, replaces authoring.DefaultBudget (the service's
	// limits) for the authoring requests of this run. The demo sets a
	// roomy one: its emulators enforce no limits, and its commands share
	// one process, so the default would pause it for a minute.
	budget *authoring.RateBudget
}

// Command is one subcommand. Run receives the arguments after its name.
type Command struct {
	Name    string
	Summary string
	Run     func(ctx context.Context, env *Env, args []string) error
}

// commands is the table of subcommands; each lives in its own file.
func commands() []Command {
	return []Command{
		versionCommand(),
		emulatorCommand(),
		projectCommand(),
		replicateCommand(),
		syncCommand(),
		restoreCommand(),
		statusCommand(),
		backupsCommand(),
		enqueueCommand(),
		classifyCommand(),
		localCommand(),
		demoCommand(),
		serveCommand(),
		completionCommand(),
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	// Inside AWS Lambda the binary serves invocations instead of a command.
	if code, ok := runLambda(ctx, env); ok {
		os.Exit(code)
	}
	os.Exit(run(ctx, env, os.Args[1:]))
}

// run dispatches to a subcommand and maps its error to an exit code and a
// one-line message (plus a hint for usage errors).
func run(ctx context.Context, env *Env, args []string) int {
	if len(args) > 0 && args[0] == "--version" {
		args = append([]string{"version"}, args[1:]...)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printMainUsage(env.Stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.Name == args[0] {
			return exitCode(env, c.Name, c.Run(ctx, env, args[1:]))
		}
	}
	fmt.Fprintf(env.Stderr, "langsync: unknown command %q\nTry: langsync --help\n", args[0])
	return exitUsage
}

func exitCode(env *Env, name string, err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	var ue *UsageError
	if errors.As(err, &ue) {
		fmt.Fprintf(env.Stderr, "langsync %s: %s\n", name, ue.Message)
		if ue.Hint != "" {
			fmt.Fprintf(env.Stderr, "Try: %s\n", ue.Hint)
		}
		return exitUsage
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintf(env.Stderr, "langsync %s: interrupted\n", name)
		return exitSignals
	}
	var ae *alertError
	if errors.As(err, &ae) {
		fmt.Fprintf(env.Stderr, "langsync %s: %v\n", name, err)
		return exitAlert
	}
	fmt.Fprintf(env.Stderr, "langsync %s: %v\n", name, err)
	return exitFailed
}

func printMainUsage(w io.Writer) {
	fmt.Fprintf(w, "langsync keeps disaster-recovery replicas of Azure AI Language custom projects.\n\nUsage: langsync <command> [flags]\n\nCommands:\n")
	cs := commands()
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-10s %s\n", c.Name, c.Summary)
	}
	fmt.Fprintf(w, "\nRun 'langsync <command> --help' for a command's manual: flags, examples, exit codes.\nExit codes: 0 success; 1 the operation failed; 2 usage or config error; 130 interrupted.\n")
}

// UsageError is a bad command line or configuration: exit code 2.
type UsageError struct {
	Message string
	Hint    string
}

func (e *UsageError) Error() string { return e.Message }

// usagef returns a UsageError with a hint line.
func usagef(hint, format string, a ...any) error {
	return &UsageError{Message: fmt.Sprintf(format, a...), Hint: hint}
}

// helpPrinters holds each flag set's help printer; parseFlags calls it only
// for -h/--help, so a parse error never dumps the usage (issue 14, item 9).
var helpPrinters sync.Map // *flag.FlagSet -> func()

// newFlagSet returns the flag set of the command at path ("backups", "project
// show"): --help prints its manual page (help.go) to stdout; it never exits
// the process itself nor prints anything on a parse error (the caller
// reports the error once, via exitCode).
func newFlagSet(env *Env, path string) *flag.FlagSet {
	fs := flag.NewFlagSet(path, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	helpPrinters.Store(fs, func() { printPage(env.Stdout, path, fs) })
	return fs
}

// parseFlags parses args, allowing flags after positional arguments
// ("project show P --json"), and turns a parse error into a UsageError.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				if p, ok := helpPrinters.Load(fs); ok {
					p.(func())()
				}
				return nil, err
			}
			msg := err.Error()
			// The flag package names a flag with one dash whatever the
			// user typed; say it as documented.
			if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
				msg = "unknown flag --" + name
			}
			return nil, &UsageError{Message: msg, Hint: "langsync " + fs.Name() + " --help"}
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// parseNoArgs is parseFlags for a command that takes no positional
// arguments: a stray word is a usage error before anything starts, so
// `replicate Tickets` cannot silently replicate every project.
func parseNoArgs(fs *flag.FlagSet, args []string) error {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		hint := "langsync " + fs.Name() + " --help"
		if fs.Lookup("project") != nil {
			return usagef(hint, "unexpected argument %q (did you mean --project %s?)", pos[0], pos[0])
		}
		return usagef(hint, "unexpected argument %q: %s takes no arguments", pos[0], fs.Name())
	}
	return nil
}
