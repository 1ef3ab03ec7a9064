package healthcheck

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

const reloadOld = `
virtual_server 192.0.2.1 80 {
    protocol TCP
    alpha
    delay_loop 10
    real_server 198.51.100.1 80 {
        TCP_CHECK {
            connect_timeout 3
        }
        HTTP_GET {
            url {
                path /health
            }
        }
    }
    real_server 198.51.100.2 80 {
        TCP_CHECK {
        }
    }
}
virtual_server 192.0.2.9 53 {
    protocol UDP
    real_server 198.51.100.9 53 {
        DNS_CHECK {
        }
    }
}
`

// The new file adds a virtual server in front, changes the second real
// server's checker, reorders the first's, and moves the DNS server to TCP.
const reloadNew = `
virtual_server 192.0.2.7 80 {
    protocol TCP
    real_server 198.51.100.7 80 {
        TCP_CHECK {
        }
    }
}
virtual_server 192.0.2.1 80 {
    protocol TCP
    alpha
    delay_loop 20
    real_server 198.51.100.1 80 {
        HTTP_GET {
            url {
                path /health
            }
        }
        TCP_CHECK {
            connect_timeout 3
            retry 5
        }
    }
    real_server 198.51.100.2 80 {
        TCP_CHECK {
            connect_port 8080
        }
    }
}
virtual_server 192.0.2.9 53 {
    protocol TCP
    real_server 198.51.100.9 53 {
        DNS_CHECK {
        }
    }
}
`

func TestMatchCheckers(t *testing.T) {
	m := MatchCheckers(parse(t, reloadOld), parse(t, reloadNew))
	want := map[CheckerID]CheckerID{
		{RSID{1, 0}, 0}: {RSID{0, 0}, 1}, // HTTP_GET moved
		{RSID{1, 0}, 1}: {RSID{0, 0}, 0}, // TCP_CHECK: retry and delay_loop changes keep the state
	}
	if len(m) != len(want) {
		t.Fatalf("matched %v, want %v", m, want)
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%v matched %v, want %v", k, m[k], v)
		}
	}
}

// TestReloadCarriesState: an alpha real server that was up stays up
// across a reload instead of starting down again; a new checker starts as
// at start.
func TestReloadCarriesState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		oldCfg, newCfg := parse(t, reloadOld), parse(t, reloadNew)
		ok := ProberFunc(func(context.Context) Result { return Result{Verdict: Success} })
		withProber := func(specs []Spec) []Spec {
			for i := range specs {
				specs[i].Prober = ok
			}
			return specs
		}
		rss, specs, _ := Build(oldCfg)
		events := make(chan Event, 64)
		s := New(Config{Events: events, Rand: func() float64 { return 0 }}, rss, withProber(specs))
		time.Sleep(2 * time.Second)
		synctest.Wait()
		s.Close()
		carried := s.Carried()
		if c := carried[CheckerID{RSID{0, 0}, 0}]; !c.Up || !c.HasRun {
			t.Fatalf("old TCP_CHECK state %+v", c)
		}

		rss, specs, _ = Build(newCfg)
		match := MatchCheckers(oldCfg, newCfg)
		for i := range specs {
			if o, ok := match[specs[i].ID]; ok {
				c := carried[o]
				specs[i].Carry = &c
			}
		}
		s2 := New(Config{Events: events}, rss, withProber(specs))
		defer s2.Close()
		for _, st := range s2.RealServers() {
			wantUp := st.ID != (RSID{1, 1}) // its checker changed: alpha, down until checked
			if st.Up != wantUp {
				t.Errorf("after reload %v up=%v, want %v", st.ID, st.Up, wantUp)
			}
		}
	})
}

func TestCoreRestore(t *testing.T) {
	c := NewCore(CoreConfig{Kind: KindTCP, Timing: Timing{Retry: 3, Alpha: true}}, t0, 0)
	c.Restore(Carried{Up: true, HasRun: true, RetryIt: 7})
	if !c.Up() || !c.HasRun() || c.retryIt != 2 || !c.Deadline().Equal(at(1)) {
		t.Fatalf("restored %+v", c)
	}
	f := NewCore(CoreConfig{Kind: KindFile}, t0, 0)
	f.Restore(Carried{Up: false, HasRun: true, Offset: 9})
	if !f.Up() || f.HasRun() || f.Offset() != 0 {
		t.Fatalf("FILE_CHECK took a carried state: %+v", f)
	}
}
