package daemon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/internal/ctl/ctltest"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// checkJSONKeys reports every key of the JSON document doc that is not
// snake_case, with its path.
func checkJSONKeys(t *testing.T, doc []byte) {
	t.Helper()
	bad, n, err := ctltest.BadJSONKeys(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range bad {
		t.Errorf("status key %s is not snake_case", p)
	}
	if n < 20 {
		t.Errorf("only %d keys checked in %s", n, doc)
	}
}

// TestStatusJSONSnakeCase: the status of two running daemons (a sync
// group on the twins' wire, one master, one backup) has snake_case keys
// only (ctl's TestStatusSnakeCase checks the types, parts a running daemon
// leaves out included), and an accepted advert is counted as "ok" in it
// and in the metrics.
func TestStatusJSONSnakeCase(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		a := startNode(t, wire, "192.0.2.1", "fe80::1", prio(groupConf, "150"))
		b := startNode(t, wire, "192.0.2.2", "fe80::2", prio(groupConf, "100"))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		for _, n := range []*node{a, b} {
			doc, err := json.Marshal(n.d.Status())
			if err != nil {
				t.Fatal(err)
			}
			checkJSONKeys(t, doc)
		}
		st := b.d.Status()
		in := st.Instances[0]
		if in.State != "BACKUP" || in.Received["ok"] == 0 || in.Received["none"] != 0 {
			t.Errorf("backup %s: received %v; want accepted adverts counted as ok", in.State, in.Received)
		}
		var m bytes.Buffer
		if err := ctl.WriteMetrics(&m, st); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf(`vigil_vrrp_adverts_received_total{family="inet",instance=%q,interface="eth0",vrid="1",verdict="ok"} %d`+"\n", in.Name, in.Received["ok"])
		if !strings.Contains(m.String(), want) || strings.Contains(m.String(), `verdict="none"`) {
			t.Errorf("metrics lack %q (or still say none):\n%s", want, m.String())
		}
	})
}
