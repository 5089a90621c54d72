package main

import (
	"math/rand/v2"
	"time"

	"github.com/langsync/langsync/shared/emulator"
)

// mode is how a soak run drives langsync.
type mode string

const (
	// modeSingle: one `langsync replicate`.
	modeSingle mode = "single"
	// modeDuplicate: two `langsync replicate` started together.
	modeDuplicate mode = "duplicate drivers"
	// modeKill: `langsync replicate`, kill -9 at a random moment, then the
	// same command again (as an operator would).
	modeKill mode = "kill -9"
	// modeLocal: two `langsync local` hosts on one store, syncing on a
	// short schedule; sometimes one is killed -9 and started again.
	modeLocal mode = "two local hosts"
)

var allModes = []mode{modeSingle, modeDuplicate, modeKill, modeLocal}

// plan is what one soak run does, drawn from the seed before it starts so
// that a seed replays the same scenario (timings still vary).
type plan struct {
	N    int
	Mode mode
	// Faults per emulator name, set after the source was changed.
	Faults map[string]emulator.Faults
	// Kill: in modeKill, kill the driver at this fraction of the expected
	// run time; in modeLocal, kill and restart one host (Kill > 0), the
	// second one when KillSecond (either may be the one driving the run).
	Kill       float64
	KillSecond bool
	// Label of the document added to the source project.
	Class string
}

// planRun draws soak run n. resources are the emulator names, source
// first.
func planRun(rng *rand.Rand, n int, resources []string, classes []string) plan {
	p := plan{N: n, Faults: map[string]emulator.Faults{}, Class: classes[rng.IntN(len(classes))]}
	switch x := rng.Float64(); {
	case x < 0.35:
		p.Mode = modeSingle
	case x < 0.60:
		p.Mode = modeDuplicate
	case x < 0.85:
		p.Mode = modeKill
		p.Kill = 0.05 + 0.9*rng.Float64()
	default:
		p.Mode = modeLocal
		if rng.IntN(2) == 0 {
			p.Kill = 0.05 + 0.9*rng.Float64()
			p.KillSecond = rng.IntN(2) == 0
		}
	}
	for i, name := range resources {
		p.Faults[name] = drawFaults(rng, i == 0)
	}
	return p
}

// drawFaults picks a random mix of the faults the issue lists. Ratios are
// low enough that the authoring client's own retries usually absorb them;
// the point is that every kind happens many times over a soak.
func drawFaults(rng *rand.Rand, source bool) emulator.Faults {
	f := emulator.Faults{Seed: rng.Uint64()}
	if rng.Float64() < 0.5 {
		f.ThrottleRatio = 0.05 + 0.10*rng.Float64()
		f.RetryAfter = 1 + rng.IntN(2)
	}
	if rng.Float64() < 0.3 {
		f.ErrorRatio = 0.03 + 0.05*rng.Float64()
		f.ErrorStatus = []int{0, 500, 503}[rng.IntN(3)]
	}
	if rng.Float64() < 0.25 {
		f.DropRatio = 0.02 + 0.02*rng.Float64()
	}
	if rng.Float64() < 0.4 {
		f.Latency = emulator.Duration(time.Duration(10+rng.IntN(140)) * time.Millisecond)
	}
	if rng.Float64() < 0.08 {
		f.JobFailureRatio = 0.2
	}
	if rng.Float64() < 0.3 {
		// Accept then lose: on the source only exports are started, on a
		// target imports, trainings and deployments. Mostly one lost
		// answer; sometimes a ratio, so that a retry can be lost too.
		if rng.Float64() < 0.7 {
			f.LoseAcceptedCount = 1
		} else {
			f.LoseAcceptedRatio = 0.2 + 0.15*rng.Float64()
		}
		if !source && rng.IntN(2) == 0 {
			kinds := []string{"import", "train", "deploy"}
			f.LoseAcceptedKinds = []string{kinds[rng.IntN(len(kinds))]}
		}
		if rng.IntN(3) == 0 {
			// Hold the connection silently, as a request that times out
			// after the service accepted it.
			f.LoseAcceptedHold = emulator.Duration(time.Duration(500+rng.IntN(2000)) * time.Millisecond)
		}
	}
	if rng.Float64() < 0.05 {
		// The service's real limits (10 writes, 100 reads a minute).
		f.RateLimit = true
	}
	return f
}
