package ctl_test

import (
	"reflect"
	"testing"

	"github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/ftfw"
	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/internal/ctl/ctltest"
	"github.com/vigil-ha/vigil/vrrp"
)

// TestStatusSnakeCase: every struct the status document holds is tagged
// snake_case, and so are the reasons that are keys of it (received
// verdicts, conntrack drops). An accepted advert is "ok", the word
// vigilctl and the metrics use.
func TestStatusSnakeCase(t *testing.T) {
	bad, n := ctltest.BadFieldNames(reflect.TypeFor[ctl.Status]())
	for _, b := range bad {
		t.Errorf("%s is not snake_case in JSON: tag it", b)
	}
	if n < 100 {
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
		if !ctltest.IsSnakeCase(r) {
			t.Errorf("reason %q (a key of received or conntrack.drops) is not snake_case", r)
		}
	}
	if vrrp.DropNone.String() != "ok" {
		t.Errorf("an accepted advert is %q, want ok", vrrp.DropNone)
	}
}

// TestBadKeysCanFail: the checkers find what they look for.
func TestBadKeysCanFail(t *testing.T) {
	type inner struct {
		Fine  int `json:"fine_name"`
		Upper int
	}
	type outer struct {
		In    []inner `json:"in"`
		Camel int     `json:"camelCase"`
	}
	if bad, n := ctltest.BadFieldNames(reflect.TypeFor[outer]()); len(bad) != 2 || n != 4 {
		t.Errorf("BadFieldNames: %q of %d", bad, n)
	}
	bad, n, err := ctltest.BadJSONKeys([]byte(`{"a_b": [{"cD": 1}], "tracking": {"interfaces": {"eth0.Ab": true}}}`))
	if err != nil || len(bad) != 1 || bad[0] != "a_b.cD" || n != 4 {
		t.Errorf("BadJSONKeys: %q of %d, %v", bad, n, err)
	}
}
