package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/langsync/langsync/shared/emulator"
	"github.com/langsync/langsync/shared/emulator/emulatortest"
	"github.com/langsync/langsync/shared/pipeline"
)

// chromium returns the headless browser the page test drives:
// $LANGSYNC_CHROMIUM, default /usr/bin/chromium. A missing browser fails
// the test (it is never skipped): `make deps` installs it.
func chromium(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("LANGSYNC_CHROMIUM")
	if bin == "" {
		bin = "/usr/bin/chromium"
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("headless Chromium not found at %s (LANGSYNC_CHROMIUM): run `make deps`, which installs the Debian package chromium: %v", bin, err)
	}
	return bin
}

// runChromium loads url in a fresh headless Chromium with extra flags
// (--dump-dom, --screenshot=F) and returns its standard output.
func runChromium(t *testing.T, bin, url string, extra ...string) []byte {
	t.Helper()
	ctx, cancel := testContext(t)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir=" + t.TempDir(), "--window-size=1100,1500"}, extra...)
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	cmd.Dir = t.TempDir() // --screenshot without a path writes here
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", extra, err, errb.String())
	}
	return out.Bytes()
}

var (
	tagRE   = regexp.MustCompile(`(?s)<style.*?</style>|<svg.*?</svg>|<[^>]+>`)
	spaceRE = regexp.MustCompile(`\s+`)
)

// visibleText is the page's text as a reader gets it: the DOM without its
// tags, styles and the chart's drawing, entities decoded, spaces folded.
func visibleText(dom string) string {
	s := tagRE.ReplaceAllString(dom, " ")
	s = strings.NewReplacer("&gt;", ">", "&lt;", "<", "&amp;", "&", "&#39;", "'", "&quot;", `"`, "&middot;", "·").Replace(s)
	return strings.TrimSpace(spaceRE.ReplaceAllString(s, " "))
}

// TestStatusPageInChromium starts a real `langsync local --listen` process
// on three emulators (Tickets replicated to secondary, and to tertiary,
// whose only training config version expires in 20 days), waits for both
// runs, then loads / in headless Chromium and checks what a person reads
// there, and that the page renders to a non-blank screenshot (written to
// $LANGSYNC_SCREENSHOT when set: docs/img/status-page.png is made so).
func TestStatusPageInChromium(t *testing.T) {
	t.Parallel()
	bin := chromium(t)
	d := map[string]time.Duration{"export": 50 * time.Millisecond, "import": 50 * time.Millisecond, "train": 300 * time.Millisecond, "deploy": 100 * time.Millisecond}
	src := emulatortest.Start(t, &emulator.Options{Name: "primary", Clock: emulator.RealClock(), JobDurations: d})
	tgt := emulatortest.Start(t, &emulator.Options{Name: "secondary", Clock: emulator.RealClock(), JobDurations: d})
	short := emulatortest.Start(t, &emulator.Options{Name: "tertiary", Clock: emulator.RealClock(), JobDurations: d,
		TrainingConfigVersions: []emulator.TrainingConfigVersion{{Version: "2022-05-01", Expires: "+20d"}}})
	src.Load(emulatortest.SingleLabelProject("Tickets", "tickets", 6))
	src.TrainAndDeploy("Tickets", "v1", "production")
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "langsync.yaml")
	text := fmt.Sprintf(`resources:
  primary: {endpoint: %q, key: %q, storage: %q}
  secondary: {endpoint: %q, key: %q, storage: %q}
  tertiary: {endpoint: %q, key: %q, storage: %q}
projects:
  - {name: Tickets, source: primary, targets: [secondary, tertiary], deployments: [production]}
store: %q
schedule: "0 0 2 1 1 *"
alerts: {maxLag: 26h, expiryWarning: 30d}
`, src.URL, src.Key, src.DocsDir, tgt.URL, tgt.Key, tgt.DocsDir, short.URL, short.Key, short.DocsDir, filepath.Join(dir, "store"))
	if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &localLogs{}
	p := localProcess(t, logs, "--config", cfgPath, "--listen", "127.0.0.1:0", "--sync-now", "--log-format", "json")
	urlRE := regexp.MustCompile(`"msg":"status endpoints listening","url":"(http://127\.0\.0\.1:\d+/)"`)
	var base string
	pollUntil(t, "the status endpoints listening", func() bool {
		m := urlRE.FindStringSubmatch(logs.String())
		if m != nil {
			base = m[1]
		}
		return m != nil
	}, logs)
	pollUntil(t, "both pairs replicated", func() bool {
		resp, err := http.Get(base + "status")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var st []pipeline.PairStatus
		if json.NewDecoder(resp.Body).Decode(&st) != nil || len(st) != 2 {
			return false
		}
		for _, s := range st {
			if s.ActiveRun != nil || s.LastRunPhase != "succeeded" {
				return false
			}
		}
		return true
	}, logs)

	dom := string(runChromium(t, bin, base, "--dump-dom"))
	page := visibleText(dom)
	t.Logf("the page as read:\n%s", page)
	for _, want := range []string{
		"langsync status",
		"2 pairs: 1 in sync, 1 alerting.",
		"Lag and backups over time",
		"primary/Tickets -> secondary in sync",
		"primary/Tickets -> tertiary alert",
		"Lag 0s",
		"Active run none",
		"Last error none",
		"Alert (expiry): target tertiary/Tickets: deployment production (model v1) expires " + time.Now().UTC().AddDate(0, 0, 20).Format(time.DateOnly),
		"Expiry warnings:",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page does not read %q", want)
		}
	}
	if n := strings.Count(page, "Last replicated 20"); n != 2 {
		t.Errorf("%d pairs show a last replication date, want 2", n)
	}
	if !strings.Contains(dom, "<svg") || !strings.Contains(dom, "<polyline") {
		t.Error("the chart is not in the rendered page")
	}
	if strings.Contains(dom, "<script") {
		t.Error("the rendered page has a script")
	}

	runChromium(t, bin, base, "--screenshot="+filepath.Join(dir, "page.png"), "--hide-scrollbars")
	shot, err := os.ReadFile(filepath.Join(dir, "page.png"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	colors := map[[3]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 4 {
		for x := b.Min.X; x < b.Max.X; x += 4 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colors[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
		}
	}
	if b.Dx() != 1100 || len(colors) < 20 {
		t.Errorf("screenshot %v with %d colours: want 1100 px wide and a rendered page", b, len(colors))
	}
	if out := os.Getenv("LANGSYNC_SCREENSHOT"); out != "" {
		if err := os.WriteFile(out, shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if st, _ := p.Process.Wait(); st == nil || st.ExitCode() != 0 {
		t.Errorf("after SIGTERM: %v, want exit 0\n%s", st, tail(logs.String(), 20))
	}
	for _, k := range []string{src.Key, tgt.Key, short.Key} {
		if strings.Contains(logs.String(), k) || strings.Contains(dom, k) {
			t.Fatal("a subscription key appears in the logs or the page")
		}
	}
}
