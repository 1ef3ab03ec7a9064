package harness

import (
	"bufio"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serveOnce answers one connection on a unix socket in a new directory:
// it checks that the request line is want and writes answer.
func serveOnce(t *testing.T, want, answer string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ctl.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		defer c.Close()
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || line != want+"\n" {
			t.Errorf("request %q (%v), want %q", line, err, want)
		}
		c.Write([]byte(answer))
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return path
}

// TestReadStatus: one "status" line out, the JSON document decoded; an
// answer that is not a status, or no socket, is an error, not a zero
// status.
func TestReadStatus(t *testing.T) {
	path := serveOnce(t, "status", `{"router_id":"r1","instances":[{"name":"VI_1","state":"MASTER"}]}`+"\n")
	s, err := ReadStatus(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.RouterID != "r1" || len(s.Instances) != 1 || s.Instances[0].Name != "VI_1" || s.Instances[0].State != "MASTER" {
		t.Errorf("status %+v", s)
	}

	if _, err := ReadStatus(serveOnce(t, "status", "not json\n")); err == nil {
		t.Error("an answer that is not JSON decoded without error")
	}
	if _, err := ReadStatus(filepath.Join(t.TempDir(), "none.sock")); err == nil {
		t.Error("no socket, no error")
	}
}

// TestRequestTimeout: a vigild that never answers costs the timeout, not
// the test.
func TestRequestTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctl.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	held := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			held <- c
		}
	}()
	defer func() {
		if c := <-held; c != nil {
			c.Close()
		}
	}()
	var out map[string]string
	err = Request(path, "reload", 200*time.Millisecond, &out)
	if err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("Request to a silent socket: %v, want a timeout", err)
	}
}
