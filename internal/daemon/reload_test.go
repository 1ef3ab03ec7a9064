package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// TestCheckReload is the reload decision, case by case.
func TestCheckReload(t *testing.T) {
	one := loadConf(t, prio(pairConf, "150"))
	none := loadConf(t, "global_defs {\n    router_id r1\n}\n")
	fatal := &config.Error{Pos: config.Pos{File: "k.conf", Line: 3, Col: 1}, Err: config.ErrNotKeepalivedConf, Severity: config.Fatal}
	warn := &config.Error{Pos: config.Pos{File: "k.conf", Line: 4, Col: 1}, Keyword: "foo", Err: errors.New("unknown keyword"), Severity: config.Warning}
	many := []*config.Error{fatal, fatal, fatal, fatal, fatal}
	cases := []struct {
		name       string
		running    int
		next       *config.Config
		complaints []*config.Error
		loadErr    error
		force      bool
		want       string // "" = apply
	}{
		{"clean, same count", 1, one, nil, nil, false, ""},
		{"warnings only", 1, one, []*config.Error{warn}, nil, false, ""},
		{"first instances on an idle daemon", 0, one, nil, nil, false, ""},
		{"no instances on an idle daemon", 0, none, nil, nil, false, ""},
		{"unreadable file", 2, nil, nil, errors.New("config: open k.conf: permission denied"), false, "permission denied"},
		{"load error quotes the fatal complaint", 2, one, []*config.Error{warn, fatal}, errors.New("k.conf: configuration cannot run"),
			false, "k.conf: configuration cannot run: k.conf:3:1: not a keepalived.conf"},
		{"fatal complaint without load error", 2, one, []*config.Error{fatal}, nil, false, "cannot run: k.conf:3:1: not a keepalived.conf"},
		{"fatal complaint, forced", 2, one, []*config.Error{fatal}, nil, true, "k.conf:3:1"},
		{"at most three quoted", 1, one, many, nil, false, "; and 2 more"},
		{"nil configuration", 1, nil, nil, nil, false, "no configuration"},
		{"all instances gone", 2, none, []*config.Error{warn}, nil, false, "no vrrp_instance and would stop the 2 running"},
		{"all instances gone, forced", 2, none, nil, nil, true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := checkReload(c.running, c.next, c.complaints, c.loadErr, c.force)
			if c.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrReloadRefused) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want a refusal with %q", err, c.want)
			}
		})
	}
}

// reloadable is a node whose Reload reads text, as vigild's does (a load
// with Fatal complaints is an error), from a file set held in memory.
type reloadable struct {
	mu    sync.Mutex
	files map[string]string
}

const confPath = "/etc/keepalived/keepalived.conf"

func (r *reloadable) set(path, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.files[path] = text
}

func (r *reloadable) load() (*config.Config, []*config.Error, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	opts := config.Options{
		ConfigID: "test",
		ReadFile: func(name string) ([]byte, error) {
			if s, ok := r.files[name]; ok {
				return []byte(s), nil
			}
			return nil, fmt.Errorf("open %s: no such file", name)
		},
		Glob: func(p string) ([]string, error) {
			if _, ok := r.files[p]; ok {
				return []string{p}, nil
			}
			return nil, nil
		},
	}
	cfg, complaints, err := config.Load(confPath, opts)
	if err == nil && config.ExitCode(cfg, complaints, nil) == config.ExitCannot {
		err = fmt.Errorf("%s: configuration cannot run", confPath)
	}
	return cfg, complaints, err
}

func garbage(seed uint64, n int) string {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return string(b)
}

// TestLoopReloadRefused: a master (150) and its backup (100). A reload of
// a binary file, of a file holding only an include loop, or of a file
// without any vrrp_instance is refused: the master keeps its state, its
// VIP and its transition count, the kernel sees no change, the backup
// stays backup, and the refusal is counted with its reason. Forced, the
// empty configuration is applied: the master stops and the backup takes
// over at Skew_Time.
func TestLoopReloadRefused(t *testing.T) {
	cases := []struct {
		name   string
		files  map[string]string
		reason string
	}{
		{"binary garbage", map[string]string{confPath: garbage(7, 4096)}, "binary data"},
		{"printable garbage", map[string]string{confPath: "lorem ipsum\ndolor sit amet\n"}, "are not keepalived keywords"},
		{"include loop", map[string]string{confPath: "include " + confPath + "\n"}, "include loop"},
		{"include loop through a second file", map[string]string{confPath: "include /etc/keepalived/b.conf\n",
			"/etc/keepalived/b.conf": "include " + confPath + "\n"}, "include loop"},
		{"no vrrp_instance", map[string]string{confPath: "global_defs {\n    router_id r1\n}\n"}, "no vrrp_instance"},
		{"empty file", map[string]string{confPath: ""}, "no vrrp_instance"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				good := prio(pairConf, "150")
				src := &reloadable{files: map[string]string{confPath: good}}
				wire := vrrptest.NewWire(vrrptest.WireOptions{})
				a := startNodeWith(t, wire, "192.0.2.1", "fe80::1", good, Options{Reload: src.load})
				b := startNode(t, wire, "192.0.2.2", "fe80::2", prio(pairConf, "100"))
				time.Sleep(10 * time.Second)
				synctest.Wait()
				if a.state("VI_1") != "MASTER" || !a.has("192.0.2.254/24") {
					t.Fatalf("setup: a is %s", a.state("VI_1"))
				}
				before := a.d.Status().Instances[0].Transitions
				changes := a.kernel.Changes()

				for path, text := range c.files {
					src.set(path, text)
				}
				err := a.d.Reload(context.Background())
				if err == nil || !errors.Is(err, ErrReloadRefused) || !strings.Contains(err.Error(), c.reason) {
					t.Fatalf("Reload = %v, want a refusal with %q", err, c.reason)
				}
				time.Sleep(10 * time.Second)
				synctest.Wait()
				st := a.d.Status()
				if len(st.Instances) != 1 || st.Instances[0].State != "MASTER" || st.Instances[0].Transitions != before {
					t.Fatalf("after the refused reload: %+v", st.Instances)
				}
				if !a.has("192.0.2.254/24") || a.kernel.Changes() != changes {
					t.Errorf("the kernel changed: VIP %v, changes %d -> %d", a.has("192.0.2.254/24"), changes, a.kernel.Changes())
				}
				if b.state("VI_1") != "BACKUP" {
					t.Errorf("peer %s after a refused reload", b.state("VI_1"))
				}
				if st.ReloadFailures != 1 || st.Reloads != 0 || !strings.Contains(st.ReloadError, c.reason) {
					t.Errorf("status: %d failures, %d reloads, reason %q", st.ReloadFailures, st.Reloads, st.ReloadError)
				}
				if !strings.Contains(c.reason, "no vrrp_instance") {
					if err := a.d.ForceReload(context.Background()); err == nil {
						t.Error("a forced reload applied a file that cannot run")
					}
					return
				}
				// Meant: forced, every instance stops and the peer takes over.
				stopAt := time.Now()
				if err := a.d.ForceReload(context.Background()); err != nil {
					t.Fatalf("ForceReload: %v", err)
				}
				synctest.Wait() // the addresses go on the kernel worker
				if a.has("192.0.2.254/24") || a.state("VI_1") != "missing" {
					t.Fatalf("forced: a still runs VI_1 (%s)", a.state("VI_1"))
				}
				sleepUntil(stopAt, time.Duration(256-100)*time.Second/256+time.Millisecond)
				if b.state("VI_1") != "MASTER" || !b.has("192.0.2.254/24") {
					t.Errorf("peer %s after the forced reload", b.state("VI_1"))
				}
				if st := a.d.Status(); st.Reloads != 1 || st.ReloadError != "" {
					t.Errorf("forced reload: %d reloads, reason %q", st.Reloads, st.ReloadError)
				}
			})
		})
	}
}

// syncBuffer is a log sink the test reads while the loop writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLoopDropFloodLogBounded: a flood of adverts with a bad checksum, a
// bad TTL and a wrong version, logged at debug level, writes one line per
// kind and then one summary per kind every ten seconds, while the
// counters count every advert; the summaries account for every one.
func TestLoopDropFloodLogBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs syncBuffer
		log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		a := startNodeWith(t, wire, "192.0.2.1", "fe80::1", prio(pairConf, "150"), Options{Log: log})
		time.Sleep(10 * time.Second)
		synctest.Wait()

		src, group := netip.MustParseAddr("192.0.2.66"), netip.MustParseAddr("224.0.0.18")
		p := vrrp.Packet{Version: 3, Type: 1, VRID: 51, Priority: 250, MaxAdvertCentis: 100,
			Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.254")}}
		good, err := p.AppendChecksummed(nil, src, group)
		if err != nil {
			t.Fatal(err)
		}
		badSum := append([]byte(nil), good...)
		badSum[6] ^= 0xff
		badVersion := append([]byte(nil), good...)
		badVersion[0] = 0x41
		kinds := []struct {
			raw    []byte
			ttl    int
			reason string
		}{{badSum, 255, "checksum"}, {good, 64, "ttl"}, {badVersion, 255, "version"}}
		sent := map[string]int{}
		// 30 s of 3 x 1000 adverts a second.
		for range 300 {
			for _, k := range kinds {
				for range 10 {
					sent[k.reason] += wire.Inject(k.raw, vrrp.RecvMeta{Src: src, Dst: group, TTL: k.ttl})
				}
			}
			time.Sleep(100 * time.Millisecond)
			synctest.Wait()
		}
		time.Sleep(30 * time.Second) // the last summaries are due
		synctest.Wait()

		st := a.d.Status().Instances[0]
		if st.State != "MASTER" {
			t.Errorf("the flood displaced the master: %s", st.State)
		}
		out := logs.String()
		summary := regexp.MustCompile(`(\d+) more dropped adverts on VI_1 \((\w+)\) in the last`)
		for _, k := range kinds {
			if sent[k.reason] != 3000 {
				t.Fatalf("%s: the wire took %d of 3000", k.reason, sent[k.reason])
			}
			if got := st.Received[k.reason]; got != uint64(sent[k.reason]) {
				t.Errorf("%s: counted %d of %d", k.reason, got, sent[k.reason])
			}
			full := strings.Count(out, "dropped advert from 192.0.2.66: "+k.reason)
			var summarised, lines int
			for _, m := range summary.FindAllStringSubmatch(out, -1) {
				if m[2] == k.reason {
					n, _ := strconv.Atoi(m[1])
					summarised += n
					lines++
				}
			}
			if full != 1 || lines < 3 || lines > 4 {
				t.Errorf("%s: %d full lines and %d summaries for 30 s of flood, want 1 and 3 or 4", k.reason, full, lines)
			}
			if full+summarised != sent[k.reason] {
				t.Errorf("%s: the lines account for %d of %d", k.reason, full+summarised, sent[k.reason])
			}
		}
		if n := strings.Count(out, "\n"); n > 40 {
			t.Errorf("%d log lines for the flood:\n%s", n, out)
		}
	})
}
