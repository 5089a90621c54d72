// Package metrics records langsync's metrics with the OpenTelemetry metrics
// SDK and serves them in the Prometheus text format; when the standard
// OTEL_EXPORTER_OTLP_* variables are set it also pushes them over OTLP/HTTP
// (docs/observability.md#metrics). Every method is safe on a nil
// *Recorder, so a host without metrics passes nil.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
)

// The metric names as Prometheus shows them (docs/observability.md#metrics).
const (
	RunsTotal        = "langsync_runs_total"
	Lag              = "langsync_replication_lag_seconds"
	LastSuccess      = "langsync_last_success_timestamp_seconds"
	Alerts           = "langsync_alerts"
	StepDuration     = "langsync_step_duration_seconds"
	BackupsWritten   = "langsync_backups_written_total"
	BackupBytes      = "langsync_backup_bytes_total"
	ThrottledTotal   = "langsync_throttled_requests_total"
	JobRetriesTotal  = "langsync_job_retries_total"
	meterName        = "github.com/langsync/langsync"
	defaultOTLPEvery = time.Minute
)

// Options configure New.
type Options struct {
	// Getenv reads the OTEL_EXPORTER_OTLP_* variables (default: none set,
	// so no OTLP export; hosts pass os.Getenv).
	Getenv func(string) string
	// Version is the service.version resource attribute.
	Version string
	// OTLPEvery is the OTLP push interval (default 1m).
	OTLPEvery time.Duration
}

// Recorder records the metrics. Build it with New.
type Recorder struct {
	provider *sdkmetric.MeterProvider
	registry *prometheus.Registry
	otlp     bool

	runs       metric.Int64Counter
	steps      metric.Float64Histogram
	backups    metric.Int64Counter
	bytes      metric.Int64Counter
	throttled  metric.Int64Counter
	jobRetries metric.Int64Counter

	mu    sync.Mutex
	pairs []Pair
	now   func() time.Time
}

// Pair is the gauge values of one pair, from its status.
type Pair struct {
	Source, Project, Target string
	// Behind is the source's newest change the target lacks (zero: in
	// sync); the lag gauge is the time since it, computed when read.
	Behind time.Time
	// LastSuccess is when the pair was last replicated (zero: never).
	LastSuccess time.Time
	// Alerts counts the pair's alerts by kind ("lag", "expiry").
	Alerts map[string]int
}

// AlertKinds are the kinds the alerts gauge always reports (0 or more),
// so that a query for a kind finds a series for every pair.
var AlertKinds = []string{"lag", "expiry"}

// otlpEnabled reports whether the standard variables ask for an OTLP
// export, and refuses the gRPC protocol (only OTLP/HTTP is linked).
func otlpEnabled(getenv func(string) string) (bool, error) {
	if getenv == nil {
		return false, nil
	}
	on := getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") != ""
	if !on {
		return false, nil
	}
	for _, v := range []string{"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := getenv(v); p != "" {
			if p != "http/protobuf" {
				return false, fmt.Errorf("metrics: %s=%s: langsync exports OTLP over HTTP only; set it to http/protobuf (or unset it) and point the endpoint at the collector's HTTP port (4318)", v, p)
			}
			break
		}
	}
	return true, nil
}

// New builds a Recorder with its own Prometheus registry (nothing global)
// and, when the OTLP variables are set, a periodic OTLP/HTTP exporter.
func New(ctx context.Context, opts Options) (*Recorder, error) {
	on, err := otlpEnabled(opts.Getenv)
	if err != nil {
		return nil, err
	}
	r := &Recorder{registry: prometheus.NewRegistry(), otlp: on, now: time.Now}
	exp, err := otelprom.New(otelprom.WithRegisterer(r.registry), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		return nil, fmt.Errorf("metrics: prometheus exporter: %w", err)
	}
	res := resource.NewSchemaless(semconv.ServiceName("langsync"), semconv.ServiceVersion(opts.Version))
	popts := []sdkmetric.Option{sdkmetric.WithReader(exp), sdkmetric.WithResource(res)}
	if on {
		// otlpmetrichttp reads every OTEL_EXPORTER_OTLP_* variable itself
		// (endpoint, headers, timeout, TLS).
		oexp, err := otlpmetrichttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("metrics: OTLP exporter (check OTEL_EXPORTER_OTLP_ENDPOINT): %w", err)
		}
		every := opts.OTLPEvery
		if every <= 0 {
			every = defaultOTLPEvery
		}
		popts = append(popts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(oexp, sdkmetric.WithInterval(every))))
	}
	r.provider = sdkmetric.NewMeterProvider(popts...)
	if err := r.instruments(); err != nil {
		return nil, err
	}
	return r, nil
}

// instruments creates every instrument. Names carry no unit or _total
// suffix: the Prometheus exporter adds them from the unit and kind.
func (r *Recorder) instruments() error {
	m := r.provider.Meter(meterName)
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	var err error
	r.runs, err = m.Int64Counter("langsync_runs", metric.WithDescription("Replication runs ended, per pair and outcome (succeeded or failed)."))
	add(err)
	r.steps, err = m.Float64Histogram("langsync_step_duration", metric.WithUnit("s"), metric.WithDescription("Time from a step's start to its end, by step and outcome."),
		metric.WithExplicitBucketBoundaries(0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200))
	add(err)
	r.backups, err = m.Int64Counter("langsync_backups_written", metric.WithDescription("Backup archives written (an unchanged export writes none)."))
	add(err)
	r.bytes, err = m.Int64Counter("langsync_backup", metric.WithUnit("By"), metric.WithDescription("Bytes of backup archives written."))
	add(err)
	r.throttled, err = m.Int64Counter("langsync_throttled_requests", metric.WithDescription("Requests the Language service answered 429 or 503 (throttled), per resource."))
	add(err)
	r.jobRetries, err = m.Int64Counter("langsync_job_retries", metric.WithDescription("Jobs that failed on the service's side and were sent again, by step."))
	add(err)
	lag, err := m.Float64ObservableGauge("langsync_replication_lag", metric.WithUnit("s"), metric.WithDescription("How long the target has lacked the source's newest change (0: in sync)."))
	add(err)
	last, err := m.Float64ObservableGauge("langsync_last_success_timestamp", metric.WithUnit("s"), metric.WithDescription("Unix time of the pair's last replication (absent: never)."))
	add(err)
	alerts, err := m.Int64ObservableGauge("langsync_alerts", metric.WithDescription("The pair's alert signals by kind (lag over alerts.maxLag, expiry within the window)."))
	add(err)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("metrics: creating instruments: %w", err)
	}
	_, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		r.mu.Lock()
		pairs, now := r.pairs, r.now()
		r.mu.Unlock()
		for _, p := range pairs {
			set := metric.WithAttributes(pairAttrs(p.Source, p.Project, p.Target)...)
			l := 0.0
			if !p.Behind.IsZero() {
				l = max(now.Sub(p.Behind).Seconds(), 0)
			}
			o.ObserveFloat64(lag, l, set)
			if !p.LastSuccess.IsZero() {
				o.ObserveFloat64(last, float64(p.LastSuccess.UnixNano())/1e9, set)
			}
			for _, k := range AlertKinds {
				o.ObserveInt64(alerts, int64(p.Alerts[k]), metric.WithAttributes(append(pairAttrs(p.Source, p.Project, p.Target), attribute.String("kind", k))...))
			}
		}
		return nil
	}, lag, last, alerts)
	if err != nil {
		return fmt.Errorf("metrics: registering the pair gauges: %w", err)
	}
	return nil
}

func pairAttrs(source, project, target string) []attribute.KeyValue {
	return []attribute.KeyValue{attribute.String("source", source), attribute.String("project", project), attribute.String("target", target)}
}

// Handler serves the Prometheus text format.
func (r *Recorder) Handler() http.Handler {
	if r == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(r.registry, promhttp.HandlerOpts{})
}

// OTLP reports whether the recorder also pushes over OTLP.
func (r *Recorder) OTLP() bool { return r != nil && r.otlp }

// Flush pushes what was recorded to the OTLP endpoint now (no-op without).
func (r *Recorder) Flush(ctx context.Context) error {
	if r == nil {
		return nil
	}
	return r.provider.ForceFlush(ctx)
}

// Shutdown flushes and stops the exporters.
func (r *Recorder) Shutdown(ctx context.Context) error {
	if r == nil {
		return nil
	}
	return r.provider.Shutdown(ctx)
}

// RunEnded counts a run's end for one target: outcome is succeeded or failed.
func (r *Recorder) RunEnded(ctx context.Context, source, project, target, outcome string) {
	if r == nil {
		return
	}
	r.runs.Add(ctx, 1, metric.WithAttributes(append(pairAttrs(source, project, target), attribute.String("outcome", outcome))...))
}

// StepEnded records a step's duration; outcome is done, skipped or failed.
func (r *Recorder) StepEnded(ctx context.Context, step, outcome string, d time.Duration) {
	if r == nil {
		return
	}
	r.steps.Record(ctx, d.Seconds(), metric.WithAttributes(attribute.String("step", step), attribute.String("outcome", outcome)))
}

// BackupWritten counts a backup archive written and its bytes.
func (r *Recorder) BackupWritten(ctx context.Context, source, project string, bytes int64) {
	if r == nil {
		return
	}
	set := metric.WithAttributes(attribute.String("source", source), attribute.String("project", project))
	r.backups.Add(ctx, 1, set)
	r.bytes.Add(ctx, bytes, set)
}

// Throttled counts a request a resource answered 429 or 503.
func (r *Recorder) Throttled(ctx context.Context, resource string) {
	if r == nil {
		return
	}
	r.throttled.Add(ctx, 1, metric.WithAttributes(attribute.String("resource", resource)))
}

// JobRetry counts a job sent again after it failed on the service's side.
func (r *Recorder) JobRetry(ctx context.Context, step string) {
	if r == nil {
		return
	}
	r.jobRetries.Add(ctx, 1, metric.WithAttributes(attribute.String("step", step)))
}

// SetPairs replaces the pair gauges' values (from a status read).
func (r *Recorder) SetPairs(pairs []Pair) {
	if r == nil {
		return
	}
	ps := append([]Pair(nil), pairs...)
	sort.Slice(ps, func(i, j int) bool {
		return strings.Join([]string{ps[i].Source, ps[i].Project, ps[i].Target}, "\x00") < strings.Join([]string{ps[j].Source, ps[j].Project, ps[j].Target}, "\x00")
	})
	r.mu.Lock()
	r.pairs = ps
	r.mu.Unlock()
}
