package ctl_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/internal/ctl"
)

// fakeLoop is a daemon loop for the endpoint: it answers with its
// instances' states, or, while stalled, not at all.
type fakeLoop struct {
	mu     sync.Mutex
	states []string
	stall  chan struct{} // non-nil: Status waits until it is closed
}

func (l *fakeLoop) Status() ctl.Status {
	l.mu.Lock()
	stall := l.stall
	l.mu.Unlock()
	if stall != nil {
		<-stall
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var s ctl.Status
	for i, st := range l.states {
		s.Instances = append(s.Instances, ctl.InstanceStatus{Name: []string{"VI_1", "VI_2"}[i], Interface: "eth0", VRID: i + 1, Family: "inet", State: st})
	}
	return s
}

func (l *fakeLoop) set(states ...string) { l.mu.Lock(); l.states = states; l.mu.Unlock() }

func get(h http.Handler, path string) (int, string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec.Code, rec.Body.String()
}

// TestEndpointProbes: /healthz answers 200 while the loop answers and 503
// once it has not answered within the timeout (exactly then, not before);
// /readyz answers 503 while an instance is in INIT (naming it), 200 once
// every instance has left INIT, and 503 again while the loop is stuck;
// /metrics too refuses to serve a stuck loop's stale numbers.
func TestEndpointProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		loop := &fakeLoop{states: []string{"INIT", "BACKUP"}}
		h := ctl.MetricsHandler(ctl.MetricsConfig{Status: loop.Status, Timeout: 2 * time.Second})
		if code, body := get(h, "/healthz"); code != 200 || body != "ok\n" {
			t.Errorf("healthz at start-up: %d %q", code, body)
		}
		if code, body := get(h, "/readyz"); code != 503 || !strings.Contains(body, "VI_1") || strings.Contains(body, "VI_2") {
			t.Errorf("readyz with VI_1 in INIT: %d %q", code, body)
		}

		loop.set("MASTER", "BACKUP")
		time.Sleep(time.Second) // past the snapshot's lifetime
		if code, body := get(h, "/readyz"); code != 200 || body != "ready\n" {
			t.Errorf("readyz with every instance out of INIT: %d %q", code, body)
		}

		stall := make(chan struct{})
		loop.mu.Lock()
		loop.stall = stall
		loop.mu.Unlock()
		time.Sleep(time.Second)
		for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
			start := time.Now()
			code, body := get(h, path)
			if code != 503 || !strings.Contains(body, "did not answer") || time.Since(start) != 2*time.Second {
				t.Errorf("%s with the loop stalled: %d %q after %v, want 503 after 2s", path, code, body, time.Since(start))
			}
		}

		close(stall)
		synctest.Wait()
		if code, _ := get(h, "/healthz"); code != 200 {
			t.Errorf("healthz once the loop answers again: %d", code)
		}
		if code, _ := get(h, "/readyz"); code != 200 {
			t.Errorf("readyz once the loop answers again: %d", code)
		}
	})
}

// TestEndpointOverHTTP: the probes and the exposition over a real HTTP
// server, with keepalived-exporter's names on.
func TestEndpointOverHTTP(t *testing.T) {
	loop := &fakeLoop{states: []string{"MASTER"}}
	srv := httptest.NewServer(ctl.MetricsHandler(ctl.MetricsConfig{Status: loop.Status, KeepalivedNames: true}))
	defer srv.Close()
	for _, tc := range []struct {
		path string
		code int
		has  string
	}{
		{"/healthz", 200, "ok"},
		{"/readyz", 200, "ready"},
		{"/metrics", 200, `keepalived_vrrp_state{iname="VI_1",intf="eth0",vrid="1",ip_address=""} 2`},
		{"/metrics", 200, "\nprocess_open_fds "},
		{"/nothing", 404, ""},
	} {
		resp, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(body), tc.has) {
			t.Errorf("GET %s: %d, want %d with %q:\n%s", tc.path, resp.StatusCode, tc.code, tc.has, body)
		}
	}
}

// TestServeMetricsWaitsForRequests: when its context ends, ServeMetrics
// answers the request in progress (here a 503 once the stalled loop's
// timeout passes) before it returns, instead of cutting the connection
// under the handler.
func TestServeMetricsWaitsForRequests(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	loop := &fakeLoop{states: []string{"MASTER"}, stall: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- ctl.ServeMetrics(ctx, addr, ctl.MetricsConfig{Status: loop.Status, Timeout: 500 * time.Millisecond})
	}()
	var conn net.Conn
	for deadline := time.Now().Add(10 * time.Second); ; {
		if conn, err = net.Dial("tcp", addr); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the endpoint never listened: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the handler is waiting for the loop
	cancel()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Errorf("the request in progress got no answer: %v", err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503 (the loop was stalled)", resp.StatusCode)
	}
	// The snapshot still being taken ends when the loop answers; only
	// then does ServeMetrics return.
	close(loop.stall)
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("ServeMetrics: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeMetrics did not return")
	}
}
