package predict

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/langsync"
	"github.com/langsync/langsync/shared/sample"
)

// directClassify is the baseline: the same prediction as a bare HTTP
// submit and poll, with no retries, breakers or result mapping.
func directClassify(hc *http.Client, base, key string, texts []string) error {
	var docs []map[string]string
	for i, t := range texts {
		docs = append(docs, map[string]string{"id": fmt.Sprint(i + 1), "language": "en-us", "text": t})
	}
	body, _ := json.Marshal(map[string]any{
		"analysisInput": map[string]any{"documents": docs},
		"tasks": []any{map[string]any{"kind": "CustomSingleLabelClassification", "taskName": "t",
			"parameters": map[string]string{"projectName": "Tickets", "deploymentName": "production"}}},
	})
	req, _ := http.NewRequest(http.MethodPost, base+"/language/analyze-text/jobs?api-version=2023-04-01", bytes.NewReader(body))
	req.Header.Set("Ocp-Apim-Subscription-Key", key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	loc := resp.Header.Get("operation-location")
	for {
		req, _ := http.NewRequest(http.MethodGet, loc, nil)
		req.Header.Set("Ocp-Apim-Subscription-Key", key)
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		var st struct {
			Status string `json:"status"`
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if st.Status == "succeeded" {
			return nil
		}
		if langsync.JobStatus(st.Status).Terminal() {
			return fmt.Errorf("job %s", st.Status)
		}
	}
}

// BenchmarkClassifyOverhead measures the client's added latency over a bare
// HTTP submit-and-poll against the same emulated region, interleaving the
// two so that both see the same machine load.
func BenchmarkClassifyOverhead(b *testing.B) {
	tickets := sample.Tickets()
	r := startRegion(b, "primary", tickets, true)
	sec := startRegion(b, "secondary", tickets, true)
	c, err := New([]Endpoint{
		{Name: "primary", URL: r.URL, Key: langsync.Secret(r.Key)},
		{Name: "secondary", URL: sec.URL, Key: langsync.Secret(sec.Key)},
	}, nil)
	if err != nil {
		b.Fatal(err)
	}
	texts := tickets.ProbeTexts()
	ctx := context.Background()
	hc := &http.Client{}
	const pairs = 100
	var direct, client []time.Duration
	b.ResetTimer()
	for range b.N {
		for range pairs {
			t0 := time.Now()
			if err := directClassify(hc, r.URL, r.Key, texts); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if _, err := c.Classify(ctx, "Tickets", "production", texts); err != nil {
				b.Fatal(err)
			}
			direct = append(direct, t1.Sub(t0))
			client = append(client, time.Since(t1))
		}
	}
	// Medians: the machine is shared, and a mean is at the mercy of
	// whichever side a stall happened to hit.
	d, cl := median(direct), median(client)
	b.ReportMetric(float64(d.Microseconds()), "direct-p50-µs")
	b.ReportMetric(float64(cl.Microseconds()), "client-p50-µs")
	b.ReportMetric(float64(cl)/float64(d), "client/direct-p50")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkFailover streams requests through a region outage and back:
// 100 requests, the primary goes down before request 30 and recovers before
// request 70 (its probe time reached). It reports requests lost (target 0),
// how many requests the breaker needed to move traffic, and the latency of
// the requests served while the primary was failing relative to healthy ones.
func BenchmarkFailover(b *testing.B) {
	for _, mode := range []struct {
		name   string
		faults emulator.Faults
	}{
		{"ConnectionsClosed", emulator.Faults{Down: true}},
		{"Status503", emulator.Faults{Down: true, DownStatus: 503}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			tickets := sample.Tickets()
			primary := startRegion(b, "primary", tickets, true)
			secondary := startRegion(b, "secondary", tickets, true)
			texts := tickets.ProbeTexts()[:1]
			ctx := context.Background()
			var lost, toSwitch, toReturn int
			var healthy, failing time.Duration
			var nHealthy, nFailing int
			b.ResetTimer()
			for range b.N {
				clock := newFakeClock()
				c, err := New([]Endpoint{
					{Name: "primary", URL: primary.URL, Key: langsync.Secret(primary.Key)},
					{Name: "secondary", URL: secondary.URL, Key: langsync.Secret(secondary.Key)},
				}, &Options{Clock: clock})
				if err != nil {
					b.Fatal(err)
				}
				switched, returned := -1, -1
				for i := range 100 {
					switch i {
					case 30:
						primary.Server.SetFaults(mode.faults)
					case 70:
						primary.Server.SetFaults(emulator.Faults{})
						clock.Advance(c.State().Endpoints[0].NextProbe.Sub(clock.Now()))
					}
					t0 := time.Now()
					res, err := c.Classify(ctx, "Tickets", "production", texts)
					d := time.Since(t0)
					if err != nil {
						lost++
						continue
					}
					s := c.State()
					switch {
					case i >= 30 && i < 70 && switched < 0:
						failing += d
						nFailing++
						if !s.OnPrimary {
							switched = i - 30 + 1
						}
					case i < 30:
						healthy += d
						nHealthy++
					case i >= 70 && returned < 0 && res.Endpoint == "primary":
						returned = i - 70 + 1
					}
				}
				toSwitch += switched
				toReturn += returned
			}
			n := float64(b.N)
			b.ReportMetric(float64(lost)/n, "lost-requests")
			b.ReportMetric(float64(toSwitch)/n, "requests-to-failover")
			b.ReportMetric(float64(toReturn)/n, "requests-to-return")
			b.ReportMetric((float64(failing)/float64(nFailing))/(float64(healthy)/float64(nHealthy)), "failing/healthy-latency")
		})
	}
}
