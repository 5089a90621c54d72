package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/sbemulator"
)

func init() {
	emulatorKinds["servicebus"] = emulatorKind{
		Summary: "an Azure Service Bus namespace (AMQP 1.0, queues) for the unmodified azservicebus client",
		Run:     runServiceBusEmulator,
	}
}

// parseServiceBusEmulatorFlags turns the command line into server options.
func parseServiceBusEmulatorFlags(env *Env, args []string) (sbemulator.Options, bool, error) {
	fs := newFlagSet(env, "emulator servicebus")
	addr := fs.String("addr", "127.0.0.1:5672", "`host:port` to listen on (port 0 picks a free one); plain TCP, no TLS")
	queues := fs.String("queues", strings.Join(langsync.Queues(), ","), "comma-separated queue `names` (each gets a $DeadLetterQueue)")
	maxDelivery := fs.Int("max-delivery-count", sbemulator.DefaultMaxDeliveryCount, "deliveries before a message is dead-lettered")
	lock := fs.Duration("lock-duration", sbemulator.DefaultLockDuration, "peek-lock `duration`")
	dedup := fs.Bool("duplicate-detection", true, "drop a message whose MessageId was seen within --duplicate-window")
	window := fs.Duration("duplicate-window", sbemulator.DefaultDuplicateWindow, "duplicate detection history `window`")
	maxSize := fs.Uint64("max-message-size", sbemulator.DefaultMaxMessageSize, "largest message in `bytes`")
	config := fs.String("config", "", "queues from a `Config.json` in the format of Microsoft's Service Bus emulator (instead of --queues and the per-queue flags)")
	key := fs.String("key", "", "SAS `key` clients must sign tokens with (key name RootManageSharedAccessKey); default: any token is accepted")
	verbose := fs.Bool("verbose", false, "log broker events to stderr")
	if err := parseNoArgs(fs, args); err != nil {
		return sbemulator.Options{}, false, err
	}
	hint := "langsync emulator servicebus --help"
	if *maxDelivery < 1 {
		return sbemulator.Options{}, false, usagef(hint, "--max-delivery-count must be at least 1, got %d", *maxDelivery)
	}
	if *lock < time.Second {
		return sbemulator.Options{}, false, usagef(hint, "--lock-duration must be at least 1s, got %s", *lock)
	}
	if *window <= 0 {
		return sbemulator.Options{}, false, usagef(hint, "--duplicate-window must be positive, got %s", *window)
	}
	opts := sbemulator.Options{Addr: *addr, MaxMessageSize: *maxSize, Key: *key}
	if *config != "" {
		var clash []string
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "queues", "max-delivery-count", "lock-duration", "duplicate-detection", "duplicate-window":
				clash = append(clash, "--"+f.Name)
			}
		})
		if len(clash) > 0 {
			return sbemulator.Options{}, false, usagef(hint, "--config sets the queues; drop %s", strings.Join(clash, ", "))
		}
		f, err := os.Open(*config)
		if err != nil {
			return sbemulator.Options{}, false, usagef(hint, "--config: %v", err)
		}
		defer f.Close()
		if opts.Queues, err = sbemulator.LoadConfig(f); err != nil {
			return sbemulator.Options{}, false, usagef(hint, "--config %s: %v", *config, err)
		}
		return opts, *verbose, nil
	}
	seen := map[string]bool{}
	for _, name := range strings.Split(*queues, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			// "a,,b" is a typo, not two queues; all empty is reported below.
			if strings.Trim(*queues, ", ") != "" {
				return sbemulator.Options{}, false, usagef(hint, "--queues %q has an empty name: separate names with single commas", *queues)
			}
			continue
		}
		if seen[name] {
			return sbemulator.Options{}, false, usagef(hint, "--queues names %q twice", name)
		}
		seen[name] = true
		opts.Queues = append(opts.Queues, sbemulator.QueueConfig{
			Name: name, LockDuration: *lock, MaxDeliveryCount: *maxDelivery,
			DuplicateDetection: *dedup, DuplicateWindow: *window,
		})
	}
	if len(opts.Queues) == 0 {
		return sbemulator.Options{}, false, usagef(hint, "--queues is empty: name at least one queue")
	}
	return opts, *verbose, nil
}

func runServiceBusEmulator(ctx context.Context, env *Env, args []string) error {
	opts, verbose, err := parseServiceBusEmulatorFlags(env, args)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	opts.Logger = slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
	srv, err := sbemulator.New(opts)
	if err != nil {
		return fmt.Errorf("emulator servicebus: %w (is another process using the port? try --addr 127.0.0.1:0)", err)
	}
	fmt.Fprintf(env.Stdout, "langsync emulator servicebus listening on amqp://%s (queues: %s)\n", srv.Addr(), strings.Join(srv.Queues(), ", "))
	fmt.Fprintf(env.Stdout, "LANGSYNC_SERVICEBUS=%s\n", srv.ConnectionString())
	<-ctx.Done()
	if err := srv.Close(); err != nil {
		return fmt.Errorf("emulator servicebus: closing: %w", err)
	}
	return nil
}
