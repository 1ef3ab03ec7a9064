package daemon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/ftfw"
	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// The status document (vigilctl status --json, the SIGUSR1 dump) has one
// key style: snake_case, as the names vigilctl and the metrics use.

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// dataKeyed are the objects of the status document whose keys are data
// (names chosen by the operator or the kernel), not names of ours.
var dataKeyed = map[string]bool{
	"tracking.interfaces":          true, // interface names
	"conntrack.last_commit.errors": true, // errno texts
}

// checkJSONKeys reports every key of the JSON document doc that is not
// snake_case, with its path.
func checkJSONKeys(t *testing.T, doc []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	n := walkJSONKeys(t, "", v)
	if n < 20 {
		t.Errorf("only %d keys checked in %s", n, doc)
	}
}

func walkJSONKeys(t *testing.T, path string, v any) int {
	t.Helper()
	n := 0
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if !dataKeyed[path] {
				n++
				if !snakeCase.MatchString(k) {
					t.Errorf("status key %q (at %s) is not snake_case", k, p)
				}
			}
			n += walkJSONKeys(t, p, e)
		}
	case []any:
		for _, e := range x {
			n += walkJSONKeys(t, path, e)
		}
	}
	return n
}

// checkTypeKeys walks a type as encoding/json does and reports every
// field whose JSON name is not snake_case: it covers the parts a running
// daemon leaves out (no conntrack_sync, no scripts).
func checkTypeKeys(t *testing.T, path string, typ reflect.Type, seen map[reflect.Type]bool) int {
	t.Helper()
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Array || typ.Kind() == reflect.Map {
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct || seen[typ] || typ == reflect.TypeFor[time.Time]() {
		return 0
	}
	seen[typ] = true
	n := 0
	for f := range typ.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" && f.Anonymous {
			n += checkTypeKeys(t, path, f.Type, seen) // promoted fields
			continue
		}
		if name == "" {
			name = f.Name
		}
		n++
		if !snakeCase.MatchString(name) {
			t.Errorf("%s.%s (%s) is %q in JSON, not snake_case: tag it", typ, f.Name, path, name)
		}
		n += checkTypeKeys(t, path+"."+name, f.Type, seen)
	}
	return n
}

// TestStatusJSONSnakeCase: the status of two running daemons (a sync
// group on the twins' wire, one master, one backup) has snake_case keys
// only, every struct that Status embeds is tagged so, and the keys by
// reason (verdicts, drops) are snake_case too. An accepted advert is
// "ok", the word vigilctl and the metrics use.
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
	if n := checkTypeKeys(t, "status", reflect.TypeFor[ctl.Status](), map[reflect.Type]bool{}); n < 100 {
		t.Errorf("only %d fields checked", n)
	}
	var reasons []string
	for _, r := range vrrp.DropReasons() {
		reasons = append(reasons, r.String())
	}
	for r := range ftfw.DropReason(ftfw.NumDropReasons) {
		reasons = append(reasons, r.String())
	}
	for r := conntracksync.DropReason(0); r.String() != "unknown"; r++ {
		reasons = append(reasons, r.String())
	}
	for _, r := range reasons {
		if !snakeCase.MatchString(r) {
			t.Errorf("reason %q (a key of received or conntrack.drops) is not snake_case", r)
		}
	}
}
