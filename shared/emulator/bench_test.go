package emulator_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/emulator/emulatortest"
)

// requestsPerOp is how many GETs one benchmark iteration sends, so that
// even -benchtime 1x measures a steady rate.
const requestsPerOp = 500

// getLoop sends n GETs with the key over one keep-alive client and returns
// the elapsed time.
func getLoop(b *testing.B, client *http.Client, url, key string, n int) time.Duration {
	b.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Ocp-Apim-Subscription-Key", key)
	start := time.Now()
	for i := 0; i < n; i++ {
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("GET %s: %d", url, resp.StatusCode)
		}
	}
	return time.Since(start)
}

// benchGet reports requests/second for one emulator GET, and its ratio to a
// bare loopback handler answering a body of the same size (the baseline:
// the HTTP stack alone), measured in the same run.
func benchGet(b *testing.B, r *emulatortest.Resource, path string) {
	client := &http.Client{}
	_, _, body := r.Do("GET", path, nil)
	base := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	defer base.Close()
	getLoop(b, client, base.URL, r.Key, 50) // warm both connections
	getLoop(b, client, r.URL+path, r.Key, 50)
	b.ResetTimer()
	var emu, bare time.Duration
	for i := 0; i < b.N; i++ {
		emu += getLoop(b, client, r.URL+path, r.Key, requestsPerOp)
		bare += getLoop(b, client, base.URL, r.Key, requestsPerOp)
	}
	b.StopTimer()
	n := float64(b.N * requestsPerOp)
	b.ReportMetric(n/emu.Seconds(), "req/s")
	b.ReportMetric(n/bare.Seconds(), "baseline-req/s")
	b.ReportMetric(emu.Seconds()/bare.Seconds(), "x-baseline-time")
	b.ReportMetric(0, "ns/op")
}

func BenchmarkGetProject(b *testing.B) {
	r := emulatortest.Start(b, nil)
	r.Load(emulatortest.SingleLabelProject("P", "docs", 20))
	benchGet(b, r, projects+"/P"+v23)
}

func BenchmarkJobStatus(b *testing.B) {
	r := emulatortest.Start(b, nil)
	r.Load(emulatortest.SingleLabelProject("P", "docs", 20))
	loc := r.Start202("POST", projects+"/P/:train"+v23, map[string]any{"modelLabel": "m1", "trainingConfigVersion": "latest"})
	benchGet(b, r, loc[len(r.URL):])
}
