// Package statuspage renders the status page people look at: every pair
// with its last replication, lag, fingerprint, active run, last error,
// expiry warnings and alerts, and an inline SVG chart of lag and backups
// over time. The page is one self-contained HTML document: no script, no
// style or font from elsewhere, readable with JavaScript off; it reloads
// itself every minute with a meta refresh. `langsync local --listen` and
// the Functions status function serve it (docs/observability.md#status-page).
package statuspage

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/langsync/langsync/shared/pipeline"
)

// Sample is one point of the lag history: each pair's lag, by pair
// ("primary/Tickets -> secondary"), in seconds.
type Sample struct {
	At  time.Time          `json:"at"`
	Lag map[string]float64 `json:"lag"`
}

// Page is what the page shows.
type Page struct {
	Generated time.Time
	Pairs     []pipeline.PairStatus
	// History is the lag history, oldest first.
	History []Sample
	// Backups are the creation times of the backups in the store.
	Backups []time.Time
	// MaxLag is alerts.maxLag (drawn as a line; 0: none).
	MaxLag time.Duration
	// Error is why part of the page could not be read.
	Error string
}

//go:embed page.html.tmpl
var pageTmpl string

var tmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"dur":   human,
	"short": func(s string) string { return s[:min(12, len(s))] },
	"state": func(s pipeline.PairStatus) []string { w, c := pairState(s); return []string{w, c} },
}).Parse(pageTmpl))

type view struct {
	Page
	Alerting int
	InSync   int
	Chart    template.HTML
}

// Render writes the page.
func Render(w io.Writer, p Page) error {
	v := view{Page: p, Chart: template.HTML(chart(p))} // chart escapes every text it writes
	for _, s := range p.Pairs {
		if len(s.Alerts) > 0 {
			v.Alerting++
		}
		if st, _ := pairState(s); st == "in sync" {
			v.InSync++
		}
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, v); err != nil {
		return fmt.Errorf("statuspage: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// pairState is the pair's one-word state and its CSS class.
func pairState(s pipeline.PairStatus) (string, string) {
	switch {
	case len(s.Alerts) > 0:
		return "alert", "bad"
	case s.Error != "":
		return "unknown", "bad"
	case s.ActiveRun != nil:
		return "replicating", "busy"
	case s.LastRunPhase == "failed":
		return "last run failed", "bad"
	case s.LastReplicated.IsZero():
		return "never replicated", "warn"
	case s.Lag > 0:
		return "behind", "warn"
	}
	return "in sync", "ok"
}

// human prints a duration for people: 0s, 42s, 3m12s, 5h03m, 2d04h.
func human(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d <= 0:
		return "0s"
	case d < time.Minute:
		return d.String()
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

// Chart geometry.
const (
	cw, ch         = 760.0, 240.0
	left, right    = 56.0, 56.0
	top, bottom    = 16.0, 36.0
	plotW, plotH   = cw - left - right, ch - top - bottom
	maxChartPoints = 500
)

var palette = []string{"#1f6feb", "#8250df", "#bf3989", "#0a7f6f", "#9a6700", "#57606a"}

// chart draws lag (hours, left axis, one line per pair) and the number of
// backups in the store (right axis, a step line) over time, as inline SVG.
func chart(p Page) string {
	esc := template.HTMLEscapeString
	end := p.Generated
	if end.IsZero() {
		end = time.Now()
	}
	start := end.Add(-24 * time.Hour)
	for _, s := range p.History {
		if s.At.Before(start) {
			start = s.At
		}
	}
	backups := append([]time.Time(nil), p.Backups...)
	sort.Slice(backups, func(i, j int) bool { return backups[i].Before(backups[j]) })
	if len(backups) > 0 && backups[0].Before(start) {
		start = backups[0]
	}
	span := end.Sub(start).Seconds()
	x := func(t time.Time) float64 { return left + plotW*t.Sub(start).Seconds()/span }

	names := map[string]bool{}
	maxLag := p.MaxLag.Hours()
	for _, s := range p.History {
		for n, v := range s.Lag {
			names[n] = true
			maxLag = math.Max(maxLag, v/3600)
		}
	}
	lagTop := niceCeil(maxLag)
	yLag := func(h float64) float64 { return top + plotH*(1-h/lagTop) }
	bTop := niceCeil(float64(len(backups)))
	yB := func(n float64) float64 { return top + plotH*(1-n/bTop) }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %.0f %.0f" width="100%%" role="img" aria-labelledby="chart-title">`, cw, ch)
	b.WriteString(`<title id="chart-title">Lag (hours) per pair and backups in the store over time</title>`)
	fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#fff" stroke="#d0d7de"/>`, left, top, plotW, plotH)
	for i := 0; i <= 4; i++ {
		f := float64(i) / 4
		y := top + plotH*(1-f)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eaeef2"/>`, left, y, left+plotW, y)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end" font-size="11" fill="#1f6feb">%s h</text>`, left-6, y+4, trim(lagTop*f))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11" fill="#cf222e">%s</text>`, left+plotW+6, y+4, trim(bTop*f))
	}
	for i := 0; i <= 4; i++ {
		t := start.Add(time.Duration(float64(end.Sub(start)) * float64(i) / 4))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="11" fill="#57606a">%s</text>`, x(t), top+plotH+16, t.UTC().Format("01-02 15:04"))
	}
	if p.MaxLag > 0 {
		y := yLag(p.MaxLag.Hours())
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#cf222e" stroke-dasharray="6 4"/>`, left, y, left+plotW, y)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11" fill="#cf222e">max lag %s</text>`, left+4, y-4, esc(human(p.MaxLag)))
	}
	// Backups: a step line of the count, and a tick per backup.
	if len(backups) > 0 {
		pts := []string{fmt.Sprintf("%.1f,%.1f", x(start), yB(0))}
		for i, t := range backups {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f %.1f,%.1f", x(t), yB(float64(i)), x(t), yB(float64(i+1))))
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#cf222e" stroke-width="2"/>`, x(t), top+plotH, x(t), top+plotH-6)
		}
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(end), yB(float64(len(backups)))))
		fmt.Fprintf(&b, `<polyline fill="none" stroke="#cf222e" stroke-width="1.5" points="%s"/>`, strings.Join(pts, " "))
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	hist := p.History
	if len(hist) > maxChartPoints {
		hist = hist[len(hist)-maxChartPoints:]
	}
	for i, n := range sorted {
		var pts []string
		for _, s := range hist {
			if v, ok := s.Lag[n]; ok {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(s.At), yLag(v/3600)))
			}
		}
		color := palette[i%len(palette)]
		if len(pts) == 1 {
			fmt.Fprintf(&b, `<circle cx="%s" r="3" fill="%s"/>`, strings.Replace(pts[0], ",", `" cy="`, 1), color)
		} else {
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, color, strings.Join(pts, " "))
		}
	}
	// Legend.
	lx := left
	ly := ch - 6
	legend := func(color, label string) {
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="10" height="10" fill="%s"/><text x="%.1f" y="%.1f" font-size="11" fill="#24292f">%s</text>`, lx, ly-9, color, lx+14, ly, esc(label))
		lx += 24 + 6.5*float64(len(label))
	}
	for i, n := range sorted {
		legend(palette[i%len(palette)], "lag "+n)
	}
	legend("#cf222e", fmt.Sprintf("backups (%d)", len(backups)))
	if len(sorted) == 0 {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="12" fill="#57606a">no lag history yet: a point is added at each sync and each run's end</text>`, left+plotW/2, top+plotH/2)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten (at least 1).
func niceCeil(v float64) float64 {
	if v <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func trim(v float64) string {
	s := fmt.Sprintf("%.1f", v)
	return strings.TrimSuffix(s, ".0")
}
