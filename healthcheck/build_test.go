package healthcheck

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/testnet"
)

func listen(t *testing.T) int {
	t.Helper()
	addr := serveTCP(t, "127.0.0.1:0", func(net.Conn) {})
	return int(netip.MustParseAddrPort(addr).Port())
}

func parse(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, errs := config.Parse("test.conf", []byte(text), config.Options{})
	for _, e := range errs {
		if e.Severity == config.Fatal {
			t.Fatalf("config: %v", e)
		}
	}
	return cfg
}

// TestBuildAndRun loads a keepalived.conf, builds the checkers and runs
// them for real: TCP_CHECK against a listener and a closed port, a
// FILE_CHECK fed by check.FileWatcher, a misc_dynamic MISC_CHECK; a
// checker that cannot run is reported with its position.
func TestBuildAndRun(t *testing.T) {
	dir := t.TempDir()
	up := listen(t)
	down, _ := strings.CutPrefix(closedPort(t, "tcp"), "127.0.0.1:")
	loadFile := filepath.Join(dir, "load")
	if err := os.WriteFile(loadFile, []byte("3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := testnet.WriteScript(t, dir, "weight.sh", "exit 9")
	cfg := parse(t, fmt.Sprintf(`
track_file load {
    file %s
    weight 1
}
virtual_server 127.0.0.1 80 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 127.0.0.1 %d {
        weight 5
        TCP_CHECK {
            connect_timeout 2
            warmup 0
        }
        FILE_CHECK {
            track_file load
            weight 2
        }
    }
    real_server 127.0.0.1 %s {
        TCP_CHECK {
            warmup 0
            retry 4
        }
    }
    real_server 127.0.0.2 %d {
        weight 3
        HTTP_GET {
            url {
                path /
                digest 0123
            }
        }
        MISC_CHECK {
            misc_path "%s"
            misc_dynamic
            warmup 0
        }
    }
}
`, loadFile, up, down, up, script))
	rss, specs, errs := Build(cfg)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "test.conf:") || !strings.Contains(errs[0].Error(), "digest") {
		t.Fatalf("errors %v, want one about the digest with its position", errs)
	}
	if len(rss) != 3 || len(specs) != 4 {
		t.Fatalf("%d real servers, %d checkers", len(rss), len(specs))
	}
	// keepalived's defaults as resolved: MISC_CHECK retry 0, warmup =
	// delay_loop unless set, connect port = the real server's.
	misc := specs[3]
	if misc.Core.Kind != KindMisc || misc.Core.Timing.Retry != 0 || misc.ID != (CheckerID{RSID{0, 2}, 1}) || !misc.Core.MiscDynamic {
		t.Errorf("MISC spec %+v", misc)
	}
	if tcp := specs[2]; tcp.Core.Timing.Retry != 4 || tcp.Prober.(*TCPProbe).Conn.Addr.String() != "127.0.0.1:"+down {
		t.Errorf("TCP spec %+v", tcp)
	}

	fw, err := check.NewFileWatcher(map[string]string{"load": loadFile}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Close()
	events := make(chan Event, 16)
	s := New(Config{Events: events, Workers: 4}, rss, specs)
	defer s.Close()
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case ev, ok := <-fw.Events():
				if !ok {
					return
				}
				s.FileValue(ev.Name, ev.Value)
			case <-done:
				return
			}
		}
	}()
	type rsState struct {
		up bool
		w  int64
	}
	got := map[RSID]rsState{}
	wantState := map[RSID]rsState{{0, 0}: {true, 5 + 3*2}, {0, 1}: {false, 1}, {0, 2}: {true, 9 - 2}}
	deadline := time.After(30 * time.Second)
	for len(got) < 3 || fmt.Sprint(got) != fmt.Sprint(wantState) {
		select {
		case ev := <-events:
			got[ev.Checker.RSID] = rsState{ev.RSUp, ev.Weight}
		case <-deadline:
			t.Fatalf("real servers %v, want %v", got, wantState)
		}
	}
	// The track file changes: the weight follows.
	if err := os.WriteFile(loadFile+".new", []byte("10\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(loadFile+".new", loadFile); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case ev := <-events:
			if ev.Checker.RSID == (RSID{0, 0}) && ev.Weight == 25 && ev.WeightChanged && ev.Kind == KindFile {
				return
			}
		case <-deadline:
			t.Fatal("the track file's new value did not reach the weight")
		}
	}
}

// TestSchedulerRealSockets runs 600 TCP checks on real sockets: 400
// against two listeners, 200 against a closed port; every checker's first
// result arrives and is right.
func TestSchedulerRealSockets(t *testing.T) {
	p1 := listen(t)
	p2 := listen(t)
	closed := closedPort(t, "tcp")
	var specs []Spec
	tm := Timing{DelayLoop: 500 * time.Millisecond, DelayBeforeRetry: 100 * time.Millisecond, Retry: 1, Warmup: 500 * time.Millisecond}
	for i := range 600 {
		addr := closed
		switch i % 3 {
		case 0:
			addr = fmt.Sprintf("127.0.0.1:%d", p1)
		case 1:
			addr = fmt.Sprintf("127.0.0.1:%d", p2)
		}
		specs = append(specs, Spec{ID: CheckerID{RSID{i, 0}, 0}, Core: CoreConfig{Kind: KindTCP, Timing: tm},
			Prober: &TCPProbe{Conn: loopConn(t, addr)}})
	}
	events := make(chan Event)
	s := New(Config{Events: events, Workers: 16}, nil, specs)
	defer s.Close()
	seen := map[int]bool{}
	deadline := time.After(60 * time.Second)
	for len(seen) < 600 {
		select {
		case ev := <-events:
			if !ev.First {
				continue
			}
			if seen[ev.Checker.VS] {
				t.Fatalf("second first result for %v", ev.Checker)
			}
			seen[ev.Checker.VS] = true
			if wantUp := ev.Checker.VS%3 != 2; ev.RSUp != wantUp || ev.CheckerUp != wantUp {
				t.Fatalf("%v: up=%v (%s)", ev.Checker, ev.RSUp, ev.Err)
			}
		case <-deadline:
			t.Fatalf("%d of 600 first results", len(seen))
		}
	}
	for _, st := range s.Snapshot() {
		if st.Attempts == 0 || !st.HasRun {
			t.Fatalf("snapshot %+v", st)
		}
	}
}

// TestBuildKeywords: the keywords config models for UDP_CHECK, FILE_CHECK,
// SSL_GET and DNS_CHECK reach the probes with keepalived's defaults.
func TestBuildKeywords(t *testing.T) {
	cfg := parse(t, `
track_file tf {
    file /run/vigil-test-nonexistent
    weight 7
}
virtual_server 192.0.2.1 443 {
    protocol TCP
    virtualhost vs.example
    real_server 198.51.100.1 443 {
        virtualhost rs.example
        UDP_CHECK {
            payload 01 02ab
            require_reply 4f4Bx0
            max_reply_length 9
        }
        FILE_CHECK {
            track_file tf
            weight -3 reverse
        }
        FILE_CHECK {
            track_file tf
        }
        SSL_GET {
            enable_sni
            http_protocol 1.1
            url {
                path /a
                status_code 200 300-302
            }
            url {
                path /b
                virtualhost url.example
                regex ^ok
                regex_no_match
            }
        }
        DNS_CHECK {
            connect_ip 203.0.113.5
            connect_port 53
            type aaaa
            name example.org
        }
        PING_CHECK {
        }
    }
}
`)
	// config.Dump writes the new keywords back: a dumped config builds the
	// same probes.
	again := parse(t, string(config.Dump(cfg)))
	_, specs2, _ := Build(again)
	_, specs, errs := Build(cfg)
	if len(specs2) != 6 || !reflect.DeepEqual(specs[0].Prober, specs2[0].Prober) ||
		specs[1].FileWeight != specs2[1].FileWeight || specs[1].FileReverse != specs2[1].FileReverse {
		t.Errorf("dumped config differs:\n%+v\n%+v", specs[:3], specs2[:3])
	}
	if len(errs) != 0 || len(specs) != 6 {
		t.Fatalf("%d specs, errors %v", len(specs), errs)
	}
	u := specs[0].Prober.(*UDPProbe)
	if string(u.Payload) != "\x01\x02\xab" || !u.RequireReply || string(u.Pattern) != "\x4f\x4b\x00" ||
		string(u.Mask) != "\xff\xff\x0f" || u.MinLen != 0 || u.MaxLen != 9 {
		t.Errorf("UDP probe %+v", u)
	}
	if f := specs[1]; f.TrackFile != "tf" || f.FileWeight != -3 || !f.FileReverse {
		t.Errorf("FILE_CHECK %+v", f)
	}
	if f := specs[2]; f.FileWeight != 7 || f.FileReverse {
		t.Errorf("FILE_CHECK with the track_file's weight: %+v", f)
	}
	h := specs[3].Prober.(*HTTPProbe)
	if h.TLS == nil || !h.TLS.InsecureSkipVerify || h.Proto != "1.1" || len(h.URLs) != 2 {
		t.Fatalf("SSL probe %+v", h)
	}
	// Host: url → checker → real server → virtual server; SNI skips the
	// real server's.
	if a, b := h.URLs[0], h.URLs[1]; a.Host != "rs.example" || a.SNI != "vs.example" || b.Host != "url.example" ||
		b.SNI != "url.example" || !b.NoMatch || b.Regex == nil || fmt.Sprint(a.Codes) != "[[200 200] [300 302]]" {
		t.Errorf("urls %+v", h.URLs)
	}
	if tm := specs[3].Core.Timing; tm.DelayBeforeRetry != 3*time.Second || tm.Warmup != 60*time.Second || tm.Retry != 1 {
		t.Errorf("SSL_GET timing %+v", tm)
	}
	d := specs[4].Prober.(*DNSProbe)
	if d.QType != 28 || d.Name != "example.org" || d.Conn.Addr.String() != "203.0.113.5:53" {
		t.Errorf("DNS probe %+v", d)
	}
	if tm := specs[4].Core.Timing; tm.Retry != 3 || tm.DelayBeforeRetry != 60*time.Second {
		t.Errorf("DNS_CHECK timing %+v", tm)
	}
	if p := specs[5].Prober.(*PingProbe); p.Conn.Addr.String() != "198.51.100.1:443" || p.Conn.Timeout != 5*time.Second {
		t.Errorf("PING probe %+v", p)
	}
}
