package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/queue"
)

// enqueueSender is what enqueue needs of shared/queue.
type enqueueSender interface {
	Send(ctx context.Context, queueName string, body []byte, messageID string) error
	Close(ctx context.Context) error
}

// newEnqueueSender opens the Service Bus sender (a seam for tests).
var newEnqueueSender = func(setting string, opts *queue.Options) (enqueueSender, error) {
	return queue.NewServiceBus(setting, opts)
}

func enqueueCommand() Command {
	return Command{
		Name:    "enqueue",
		Summary: "send a replicate or restore request to the Functions app's queues",
		Run: func(ctx context.Context, env *Env, args []string) error {
			if len(args) == 0 || isHelp(args[0]) {
				printPage(env.Stdout, "enqueue", nil)
				if len(args) == 0 {
					return usagef("langsync enqueue --help", "which request? (replicate, restore)")
				}
				return nil
			}
			switch args[0] {
			case "replicate":
				return enqueueReplicate(ctx, env, args[1:])
			case "restore":
				return enqueueRestore(ctx, env, args[1:])
			}
			return usagef("langsync enqueue --help", "unknown request %q (replicate, restore)", args[0])
		},
	}
}

func enqueueReplicate(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "enqueue replicate")
	project := fs.String("project", "", "source project to replicate now (required)")
	source := fs.String("source", "", "source resource (default: every configured source of the project)")
	targets := fs.String("targets", "", "comma-separated target resources (default: every configured target)")
	sb := fs.String("servicebus", "", "Service Bus connection string or namespace (default $LANGSYNC_SERVICEBUS)")
	asJSON := fs.Bool("json", false, "print the sent message as JSON")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("langsync enqueue replicate --help", "unexpected argument %q", rest[0])
	}
	tl, err := enqueueSplit(*targets)
	if err != nil {
		return usagef("langsync enqueue replicate --project Tickets --targets secondary", "--targets: %v", err)
	}
	req := langsync.ReplicateRequest{Project: *project, Source: *source, Targets: tl}
	if err := req.Validate(); err != nil {
		return usagef("langsync enqueue replicate --project Tickets", "%s", requestProblem(err))
	}
	return sendRequest(ctx, env, *sb, langsync.QueueExport, req, *asJSON)
}

func enqueueRestore(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "enqueue restore")
	backup := fs.String("backup", "", "backup id (its blob name in the backup container)")
	project := fs.String("project", "", "project whose newest backup at or before --at is restored")
	at := fs.String("at", "", "point in time: RFC 3339 (e.g. 2026-11-20T00:00:00Z), or a date 2026-11-20 meaning its end, UTC")
	target := fs.String("target", "", "resource to restore into (required)")
	as := fs.String("as", "", "restore under another project name")
	replace := fs.Bool("replace", false, "allow restoring over an existing project of that name (e.g. the replica)")
	sb := fs.String("servicebus", "", "Service Bus connection string or namespace (default $LANGSYNC_SERVICEBUS)")
	asJSON := fs.Bool("json", false, "print the sent message as JSON")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("langsync enqueue restore --help", "unexpected argument %q", rest[0])
	}
	hint := "langsync enqueue restore --project Tickets --at 2026-11-20 --target secondary"
	if *target == "" {
		return usagef(hint, "--target is required: the resource to restore into")
	}
	req := langsync.RestoreRequest{Backup: *backup, Project: *project, Target: *target, As: *as, Replace: *replace}
	if *at != "" {
		// The same time syntax as `langsync restore --at`.
		t, err := parseRestoreTime(*at)
		if err != nil {
			return usagef(hint, "%v", err)
		}
		req.At = t.UTC()
	}
	if err := req.Validate(); err != nil {
		return usagef("langsync enqueue restore --backup ID --target secondary", "%s", requestProblem(err))
	}
	return sendRequest(ctx, env, *sb, langsync.QueueImport, req, *asJSON)
}

// sendRequest sends one request message with a fresh MessageId (each
// request is meant to be processed; duplicate detection only drops retries
// of this send).
func sendRequest(ctx context.Context, env *Env, setting, queueName string, req any, asJSON bool) error {
	if setting == "" {
		setting = env.Getenv("LANGSYNC_SERVICEBUS")
	}
	if setting == "" {
		setting = env.Getenv("LANGSYNC_SERVICEBUS__fullyQualifiedNamespace")
	}
	if setting == "" {
		return usagef("langsync enqueue ... --servicebus 'Endpoint=sb://...'", "no Service Bus: set LANGSYNC_SERVICEBUS (connection string or NAME.servicebus.windows.net) or pass --servicebus")
	}
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("enqueue: encoding request: %w", err)
	}
	s, err := newEnqueueSender(setting, queueOptions(env, &lockedWriter{w: env.Stderr}))
	if err != nil {
		if errors.Is(err, queue.ErrInvalid) {
			return &UsageError{Message: err.Error(), Hint: "langsync enqueue --help"}
		}
		return fmt.Errorf("enqueue: %w", err)
	}
	defer s.Close(context.WithoutCancel(ctx))
	id := "req-" + enqueueRandomHex(8)
	if err := s.Send(ctx, queueName, body, id); err != nil {
		// The queue package's error names the queue and the namespace.
		return fmt.Errorf("enqueue: %w", err)
	}
	if asJSON {
		out, _ := json.Marshal(map[string]any{"queue": queueName, "messageId": id, "body": json.RawMessage(body)})
		fmt.Fprintln(env.Stdout, string(out))
		return nil
	}
	fmt.Fprintf(env.Stdout, "sent %s to %s (MessageId %s)\n", body, queueName, id)
	return nil
}

// requestProblem strips the package prefix from a validation error so the
// CLI message reads as advice.
func requestProblem(err error) string {
	msg := err.Error()
	if _, after, ok := strings.Cut(msg, langsync.ErrMalformed.Error()+": "); ok {
		return after
	}
	return msg
}

// enqueueSplit reads a comma-separated list; an empty entry ("a,,b", ",,")
// is a mistake, not "every target", so it is an error.
func enqueueSplit(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p == "" {
			return nil, fmt.Errorf("%q has an empty name: give names separated by commas, e.g. secondary,tertiary, or leave --targets out for every configured target", s)
		}
		out = append(out, p)
	}
	return out, nil
}

func enqueueRandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
