package sbemulatortest

import (
	"testing"

	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/sbemulator"
)

// Emulator is a running stand-in.
type Emulator struct {
	// ConnectionString reaches the stand-in with azservicebus (plain TCP).
	ConnectionString string
	// Server lets tests inspect queues, drop connections and inject faults.
	Server *sbemulator.Server
}

// Start runs a stand-in on 127.0.0.1 (a free port) until the test ends.
// With nil opts, or no queues given, it serves the four langsync queues
// with duplicate detection on.
func Start(tb testing.TB, opts *sbemulator.Options) *Emulator {
	tb.Helper()
	var o sbemulator.Options
	if opts != nil {
		o = *opts
	}
	if len(o.Queues) == 0 {
		o.Queues = LangsyncQueues()
	}
	srv, err := sbemulator.New(o)
	if err != nil {
		tb.Fatalf("sbemulatortest: starting the Service Bus stand-in: %v", err)
	}
	tb.Cleanup(func() { srv.Close() })
	return &Emulator{ConnectionString: srv.ConnectionString(), Server: srv}
}

// LangsyncQueues returns configs for langsync's queues as deployed:
// duplicate detection on, max delivery count 10.
func LangsyncQueues() []sbemulator.QueueConfig {
	var qs []sbemulator.QueueConfig
	for _, name := range langsync.Queues() {
		qs = append(qs, sbemulator.QueueConfig{Name: name, DuplicateDetection: true})
	}
	return qs
}
