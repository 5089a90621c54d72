package local

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/langsync/langsync/shared/pipeline"
)

// healthKey is read (and never found) by GET /healthz: a store that
// answers "not found" answers.
const healthKey = "local/healthz"

// Handler serves GET /metrics (Prometheus text), /healthz (200 while the
// host runs and its store answers), /status (the JSON of `langsync status
// --json`) and / (the HTML status page) (docs/observability.md#endpoints).
func (h *Host) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h.opts.Metrics.Handler())
	mux.HandleFunc("GET /healthz", h.healthz)
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		st, err := h.Points.Observe(r.Context())
		if err != nil {
			http.Error(w, "status: "+err.Error(), http.StatusInternalServerError)
			return
		}
		if st == nil {
			st = []pipeline.PairStatus{}
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(st)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		st, err := h.Points.Observe(r.Context())
		if err != nil {
			http.Error(w, "status: "+err.Error(), http.StatusInternalServerError)
			return
		}
		page, err := h.Points.Page(r.Context(), st)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(page)
	})
	return mux
}

func (h *Host) healthz(w http.ResponseWriter, r *http.Request) {
	if !h.running.Load() {
		http.Error(w, "not running", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if _, _, err := h.App.State.Get(ctx, healthKey); err != nil && !errors.Is(err, pipeline.ErrNotFound) {
		http.Error(w, "store does not answer: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// Serve serves Handler on ln until ctx ends, then shuts the server down.
func (h *Host) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: h.Handler(), ReadHeaderTimeout: 10 * time.Second}
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	defer stop()
	h.log.Info("status endpoints listening", "url", "http://"+ln.Addr().String()+"/")
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
