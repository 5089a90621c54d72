package predict

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/sample"
)

// startRegion runs a Language emulator with the sample project loaded,
// trained as v1 and deployed as production (unless deploy is false).
func startRegion(tb testing.TB, name string, p *sample.Project, deploy bool) *emulatortest.Resource {
	tb.Helper()
	r := emulatortest.Start(tb, &emulator.Options{Name: name})
	if !deploy {
		return r
	}
	var export map[string]any
	if err := json.Unmarshal(p.JSON, &export); err != nil {
		tb.Fatal(err)
	}
	r.Load(emulatortest.Project{Name: p.Name, Container: p.Container, Kind: string(p.Kind), Export: export, Docs: p.Docs})
	r.TrainAndDeploy(p.Name, "v1", "production")
	return r
}

// TestOverHTTPAgainstEmulators is the acceptance scenario over the
// wire: two emulated regions with the same sample project deployed.
func TestOverHTTPAgainstEmulators(t *testing.T) {
	t.Parallel()
	tickets := sample.Tickets()
	primary := startRegion(t, "primary", tickets, true)
	secondary := startRegion(t, "secondary", tickets, true)
	clock := newFakeClock()
	c, err := New([]Endpoint{
		{Name: "primary", URL: primary.URL, Key: langsync.Secret(primary.Key)},
		{Name: "secondary", URL: secondary.URL, Key: langsync.Secret(secondary.Key)},
	}, &Options{Clock: clock, Rand: func() float64 { return 0.5 }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	probes := tickets.ProbeTexts()
	classify := func(t *testing.T) *Result {
		t.Helper()
		res, err := c.Classify(ctx, "Tickets", "production", probes)
		if err != nil {
			t.Fatalf("Classify: %v", err)
		}
		return res
	}
	labels := func(r *Result) []string {
		var l []string
		for _, d := range r.Documents {
			l = append(l, d.Labels()[0])
		}
		return l
	}

	before := classify(t)
	if before.Endpoint != "primary" {
		t.Fatalf("healthy: served by %s", before.Endpoint)
	}
	want := labels(before)
	for i, p := range tickets.Probes {
		if want[i] != p.Want[0] {
			t.Errorf("probe %q: primary says %s, the sample expects %s", p.Text, want[i], p.Want[0])
		}
	}

	t.Run("TwentyPercentServerErrorsStayOnPrimary", func(t *testing.T) {
		if err := primary.Server.SetFaults(emulator.Faults{ErrorRatio: 0.2, Seed: 7}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { primary.Server.SetFaults(emulator.Faults{}) })
		served := 0
		for i := range 60 {
			res := classify(t)
			if res.Endpoint == "primary" {
				served++
			}
			if s := c.State(); !s.OnPrimary {
				t.Fatalf("request %d: left the primary: %s", i, s.Reason)
			}
			if got := labels(res); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("labels %v, want %v", got, want)
			}
		}
		if served < 57 || c.State().Failovers != 0 {
			t.Fatalf("primary served %d of 60 (failovers %d), want at least 57 and no failover", served, c.State().Failovers)
		}
		if errs := countStatus(primary.Server.Requests(), 500, 503); errs == 0 {
			t.Fatal("no 5xx was injected; the test proves nothing")
		}
	})

	t.Run("RegionDownAnswersFromSecondary", func(t *testing.T) {
		if err := primary.Server.SetFaults(emulator.Faults{Down: true}); err != nil {
			t.Fatal(err)
		}
		for i := range 8 {
			res := classify(t)
			if res.Endpoint != "secondary" {
				t.Fatalf("request %d served by %s", i, res.Endpoint)
			}
			if got := labels(res); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("secondary labels %v, primary gave %v", got, want)
			}
		}
		s := c.State()
		if s.Active != "secondary" || s.Failovers != 1 || !strings.Contains(s.Reason, "consecutive failed requests") {
			t.Fatalf("state = %+v", s)
		}
		primary.Server.ResetRequests()
		classify(t)
		if n := len(primary.Server.Requests()); n != 0 {
			t.Fatalf("the open primary still got %d requests", n)
		}
	})

	t.Run("RecoveredPrimaryGetsTrafficAfterProbe", func(t *testing.T) {
		if err := primary.Server.SetFaults(emulator.Faults{}); err != nil {
			t.Fatal(err)
		}
		if res := classify(t); res.Endpoint != "secondary" {
			t.Fatalf("before the probe time served by %s", res.Endpoint)
		}
		next := c.State().Endpoints[0].NextProbe
		clock.Advance(next.Sub(clock.Now()))
		res := classify(t)
		if res.Endpoint != "primary" {
			t.Fatalf("probe request served by %s", res.Endpoint)
		}
		if s := c.State(); !s.OnPrimary || s.Failbacks != 1 {
			t.Fatalf("state = %+v", s)
		}
		if res := classify(t); res.Endpoint != "primary" {
			t.Fatalf("after recovery served by %s", res.Endpoint)
		}
	})
}

// TestNotReplicatedOverHTTP: a secondary that never got the project says so.
func TestNotReplicatedOverHTTP(t *testing.T) {
	t.Parallel()
	tickets := sample.Tickets()
	primary := startRegion(t, "primary", tickets, true)
	empty := startRegion(t, "secondary", tickets, false)
	c, err := New([]Endpoint{
		{Name: "primary", URL: primary.URL, Key: langsync.Secret(primary.Key)},
		{Name: "secondary", URL: empty.URL, Key: langsync.Secret(empty.Key)},
	}, &Options{Clock: newFakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	primary.Server.SetFaults(emulator.Faults{Down: true})
	_, err = c.Classify(context.Background(), "Tickets", "production", []string{"I was charged twice"})
	var nr *NotReplicatedError
	if !errors.As(err, &nr) || nr.Endpoint != "secondary" {
		t.Fatalf("err = %v, want a NotReplicatedError from secondary", err)
	}
	if !strings.Contains(err.Error(), "project Tickets / deployment production was never replicated to secondary") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), primary.Key) || strings.Contains(err.Error(), empty.Key) {
		t.Fatal("a key leaked into the error")
	}
}

// TestOtherKindsOverHTTP runs multi-label and NER samples through the client.
func TestOtherKindsOverHTTP(t *testing.T) {
	t.Parallel()
	for _, p := range []*sample.Project{sample.Reviews(), sample.Orders()} {
		t.Run(p.Name, func(t *testing.T) {
			r := startRegion(t, "primary", p, true)
			c, err := New([]Endpoint{{Name: "primary", URL: r.URL, Key: langsync.Secret(r.Key)}}, &Options{Kind: p.Kind, Clock: newFakeClock()})
			if err != nil {
				t.Fatal(err)
			}
			res, err := c.Classify(context.Background(), p.Name, "production", p.ProbeTexts())
			if err != nil {
				t.Fatal(err)
			}
			for i, d := range res.Documents {
				if d.Error != "" || len(d.Labels()) == 0 {
					t.Errorf("probe %q: no labels (error %q)", p.Probes[i].Text, d.Error)
				}
				t.Logf("%s: %q -> %v (want %v)", p.Name, p.Probes[i].Text, d.Labels(), p.Probes[i].Want)
			}
		})
	}
}

func countStatus(reqs []emulator.Request, codes ...int) int {
	n := 0
	for _, r := range reqs {
		for _, c := range codes {
			if r.Status == c {
				n++
			}
		}
	}
	return n
}
