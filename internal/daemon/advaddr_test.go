package daemon

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// TestLoopSkipCheckAdvAddr: in strict mode an advert whose address list
// differs from ours is dropped, so when the master's list changes (here by
// a reload adding a VIP) the backup stops hearing it and takes over too.
// With skip_check_adv_addr the list of an advert from the master heard
// last is not checked (keepalived's rule) and the backup stays BACKUP.
func TestLoopSkipCheckAdvAddr(t *testing.T) {
	for _, c := range []struct {
		name string
		skip bool
		want string
	}{{"checked", false, "MASTER"}, {"skipped", true, "BACKUP"}} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				wire := vrrptest.NewWire(vrrptest.WireOptions{})
				conf := func(p string, extraVIP bool) string {
					s := strings.Replace(prio(pairConf, p), "advert_int 1", "advert_int 1\n    strict_mode", 1)
					if c.skip {
						s = strings.Replace(s, "strict_mode", "strict_mode\n    skip_check_adv_addr", 1)
					}
					if extraVIP {
						s = strings.Replace(s, "192.0.2.254/24\n", "192.0.2.254/24\n        192.0.2.253/24\n", 1)
					}
					return s
				}
				a := startNode(t, wire, "192.0.2.1", "fe80::1", conf("150", false))
				b := startNode(t, wire, "192.0.2.2", "fe80::2", conf("100", false))
				time.Sleep(10 * time.Second)
				synctest.Wait()
				if a.state("VI_1") != "MASTER" || b.state("VI_1") != "BACKUP" {
					t.Fatalf("before: a %s, b %s", a.state("VI_1"), b.state("VI_1"))
				}
				reloadNode(t, a, conf("150", true))
				time.Sleep(10 * time.Second)
				synctest.Wait()
				if got := b.state("VI_1"); got != c.want {
					t.Fatalf("backup after the master's address list changed: %s, want %s", got, c.want)
				}
			})
		})
	}
}
