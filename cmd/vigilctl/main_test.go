package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/daemon"
)

// serve answers one command per connection on a unix socket the way
// daemon.ServeControl does: it reads a line and writes one JSON document.
func serve(t *testing.T, answer func(cmd string) any) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ctl.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			line, _ := bufio.NewReader(c).ReadString('\n')
			json.NewEncoder(c).Encode(answer(strings.TrimSpace(line)))
			c.Close()
		}
	}()
	return path
}

func TestStatusTable(t *testing.T) {
	st := daemon.Status{RouterID: "fw1", Instances: []daemon.InstanceStatus{{
		Name: "VI_1", Interface: "eth0", VRID: 51, Family: "inet", State: "MASTER", Priority: 90, BasePriority: 150,
		Master: "192.0.2.1", Since: time.Now().Add(-3 * time.Second), Reason: "master_down", AdvertsSent: 7,
		Received: map[string]uint64{"none": 4, "ttl": 2},
	}}}
	var got string
	sock := serve(t, func(cmd string) any {
		got = cmd
		return st
	})
	var out, errOut bytes.Buffer
	if code := run([]string{"-s", sock, "status"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if got != "status" {
		t.Errorf("sent %q", got)
	}
	for _, want := range []string{"router_id fw1", "VI_1", "MASTER", "90 (150)", "192.0.2.1", "master_down", "ok=4 ttl=2"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestStatusShowsRefusedReload: the reason of the last refused reload is
// printed under the table.
func TestStatusShowsRefusedReload(t *testing.T) {
	st := daemon.Status{RouterID: "fw1", ReloadFailures: 2, ReloadError: "reload refused: k.conf:1:1: binary data"}
	sock := serve(t, func(string) any { return st })
	var out, errOut bytes.Buffer
	if code := run([]string{"-s", sock, "status"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "last reload failed (2 failures so far): reload refused: k.conf:1:1: binary data") {
		t.Errorf("output lacks the refused reload:\n%s", out.String())
	}
}

func TestReloadFailureExitCode(t *testing.T) {
	sock := serve(t, func(string) any { return map[string]string{"result": "failed", "error": "bad file"} })
	var out, errOut bytes.Buffer
	if code := run([]string{"-s", sock, "reload"}, &out, &errOut); code != 1 {
		t.Errorf("failed reload: exit %d, want 1 (%s)", code, out.String())
	}
	if !strings.Contains(errOut.String(), "reload failed: bad file") {
		t.Errorf("the reason is not on stderr: %q", errOut.String())
	}
}

// TestReloadForce: --force asks vigild for "reload --force".
func TestReloadForce(t *testing.T) {
	sent := make(chan string, 2)
	sock := serve(t, func(cmd string) any {
		sent <- cmd
		return map[string]string{"result": "ok"}
	})
	var out, errOut bytes.Buffer
	for _, args := range [][]string{{"reload"}, {"reload", "--force"}} {
		if code := run(append([]string{"-s", sock}, args...), &out, &errOut); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut.String())
		}
	}
	if a, b := <-sent, <-sent; a != "reload" || b != "reload --force" {
		t.Errorf("sent %q, %q; want reload then reload --force", a, b)
	}
}

func TestNoDaemon(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-s", filepath.Join(t.TempDir(), "none.sock")}, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "is vigild running") {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
}

// TestStatusRefused: vigild refusing the client (not root) must show as an
// error with the reason, not as an empty status table.
func TestStatusRefused(t *testing.T) {
	sock := serve(t, func(string) any {
		return map[string]string{"result": "failed", "error": "control socket: uid 65534 refused"}
	})
	var out, errOut bytes.Buffer
	if code := run([]string{"-s", sock, "status"}, &out, &errOut); code != 1 {
		t.Errorf("refused status: exit %d, want 1 (%s)", code, out.String())
	}
	if !strings.Contains(errOut.String(), "status failed: control socket: uid 65534 refused") {
		t.Errorf("the reason is not on stderr: %q", errOut.String())
	}
}
