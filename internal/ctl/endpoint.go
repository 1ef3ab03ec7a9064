package ctl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// MetricsConfig is what the metrics endpoint serves.
type MetricsConfig struct {
	// Status takes a snapshot from the daemon's loop. It may block while
	// the loop is busy; the endpoint waits for it at most Timeout.
	Status func() Status
	// KeepalivedNames adds keepalived-exporter's families
	// (keepalived_vrrp_state, keepalived_become_master_total, …) to
	// /metrics, beside vigil's own.
	KeepalivedNames bool
	// Timeout bounds how long a request waits for the loop's snapshot:
	// past it /healthz answers 503, and so do /readyz and /metrics, as
	// the loop is not answering. Zero means DefaultLoopTimeout.
	Timeout time.Duration
}

// DefaultLoopTimeout is how long the endpoint waits for the loop's answer
// unless MetricsConfig.Timeout says otherwise. Building a snapshot takes
// the loop microseconds; a loop that has not answered in a second is
// stuck (a liveness probe should allow it a few failures).
const DefaultLoopTimeout = time.Second

// WriteExposition writes everything the endpoint serves for s: vigil's
// families, keepalived-exporter's with keepalivedNames, then the process_*
// and go_* families of vigild itself.
func WriteExposition(out io.Writer, s Status, keepalivedNames bool) error {
	w := bufio.NewWriter(out)
	writeTable(w, metrics, &s)
	if keepalivedNames {
		writeTable(w, keepalivedMetrics, &s)
	}
	writeRuntimeMetrics(w)
	return w.Flush()
}

// MetricsHandler serves the endpoint: GET /metrics (the exposition, from
// at most one snapshot per metricsMaxAge however many scrapes come),
// GET /healthz (200 while the loop answers within the timeout, 503 when it
// does not) and GET /readyz (200 once every vrrp_instance has left INIT,
// 503 before, while stopping, or when the loop does not answer).
func MetricsHandler(cfg MetricsConfig) http.Handler {
	h, _ := newEndpoint(cfg)
	return h
}

func newEndpoint(cfg MetricsConfig) (http.Handler, *cachedStatus) {
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultLoopTimeout
	}
	src := &cachedStatus{get: cfg.Status, now: time.Now, maxAge: metricsMaxAge}
	snapshot := func(w http.ResponseWriter, r *http.Request) (Status, bool) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		s, err := src.status(ctx)
		if err != nil {
			http.Error(w, fmt.Sprintf("vigild: the daemon's loop did not answer within %v", timeout), http.StatusServiceUnavailable)
			return s, false
		}
		return s, true
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		s, ok := snapshot(w, r)
		if !ok {
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		WriteExposition(w, s, cfg.KeepalivedNames)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := snapshot(w, r); ok {
			io.WriteString(w, "ok\n")
		}
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		s, ok := snapshot(w, r)
		if !ok {
			return
		}
		if why := notReady(&s); why != "" {
			http.Error(w, "vigild: not ready: "+why, http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	return mux, src
}

// notReady says why a daemon whose snapshot is s is not ready: the
// instances still in INIT (at start-up, or again while stopping); "" when
// it is ready. The configuration is loaded once the daemon answers at all.
func notReady(s *Status) string {
	var init []string
	for _, in := range s.Instances {
		if in.State == "INIT" {
			init = append(init, in.Name)
		}
	}
	if len(init) == 0 {
		return ""
	}
	return "in INIT: " + strings.Join(init, ", ")
}

// ServeMetrics serves MetricsHandler(cfg) over HTTP on addr until ctx
// ends; it returns once the server and its goroutines have stopped,
// including a snapshot still being taken (which ends when the loop
// answers or stops).
func ServeMetrics(ctx context.Context, addr string, cfg MetricsConfig) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	h, src := newEndpoint(cfg)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	// Shutdown waits for the requests being answered (each bounded by
	// the snapshot timeout); Close then drops whatever is left.
	stop := onDone(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), shutdownWait)
		defer cancel()
		srv.Shutdown(sctx)
	})
	err = srv.Serve(l)
	stop()
	srv.Close()
	src.wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// shutdownWait bounds how long ServeMetrics waits at the end for the
// requests in progress.
const shutdownWait = 5 * time.Second

// metricsMaxAge is how long one status snapshot answers the endpoint:
// every snapshot is built by the loop, and scrapes and probes come every
// few seconds, so a flood of requests must not turn into a flood of loop
// work.
const metricsMaxAge = 250 * time.Millisecond

// cachedStatus hands out one snapshot to every request within maxAge of
// it. Concurrent requests wait for the one snapshot being taken instead of
// each asking the loop, and each waits only as long as its context lets
// it: a stuck loop holds one goroutine, not one per request.
type cachedStatus struct {
	get    func() Status
	now    func() time.Time
	maxAge time.Duration
	wg     sync.WaitGroup // the goroutine taking a snapshot

	mu      sync.Mutex // guards the fields below
	last    Status
	at      time.Time
	pending chan struct{} // closed when the snapshot being taken is in; nil when none is
}

// status returns a snapshot no older than maxAge, or ctx's error if none
// comes before ctx ends.
func (c *cachedStatus) status(ctx context.Context) (Status, error) {
	c.mu.Lock()
	if now := c.now(); !c.at.IsZero() && now.Sub(c.at) < c.maxAge && !now.Before(c.at) {
		s := c.last
		c.mu.Unlock()
		return s, nil
	}
	done := c.pending
	if done == nil {
		done = make(chan struct{})
		c.pending = done
		c.wg.Go(func() {
			s := c.get()
			c.mu.Lock()
			c.last, c.at, c.pending = s, c.now(), nil
			c.mu.Unlock()
			close(done)
		})
	}
	c.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return Status{}, ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last, nil
}
