package arbiter_test

import (
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/arbiter"
	"github.com/vigil-ha/vigil/vrrp"
)

// goldenHeartbeat is two members, written field by field.
const goldenHeartbeat = "564842 01" + // magic, version
	"02 000000" + // 2 members, reserved
	"04 56495f31" + "02 96 00 02 00" + // "VI_1" MASTER 150, flags 0, 2 monitored, 0 down
	"05 56495f494e" + "01 64 01 03 01" // "VI_IN" BACKUP 100, starved, 3 monitored, 1 down

func goldenView() arbiter.View {
	return arbiter.View{Members: []arbiter.Member{
		{Name: "VI_1", State: vrrp.StateMaster, Priority: 150, Monitored: 2},
		{Name: "VI_IN", State: vrrp.StateBackup, Priority: 100, Starved: true, Monitored: 3, Down: 1},
	}}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWireGolden(t *testing.T) {
	want := mustHex(t, goldenHeartbeat)
	got, err := goldenView().AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(got) != hex.EncodeToString(want) {
		t.Fatalf("encoded\n %x\nwant\n %x", got, want)
	}
	var v arbiter.View
	if err := v.UnmarshalBinary(want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(v, goldenView()) {
		t.Fatalf("decoded %+v", v)
	}
}

func TestWireRejects(t *testing.T) {
	g := mustHex(t, goldenHeartbeat)
	with := func(i int, b byte) []byte { c := append([]byte(nil), g...); c[i] = b; return c }
	cases := map[string][]byte{
		"short":                mustHex(t, "564842 01 02 00 00"),
		"magic":                with(2, 'C'),
		"version":              with(3, 2),
		"reserved":             with(6, 1),
		"truncated member":     g[:len(g)-1],
		"trailing byte":        append(append([]byte(nil), g...), 0),
		"state 4":              mustHex(t, "564842 01 01 000000 01 41 04 64 00 01 00"),
		"unknown flag":         mustHex(t, "564842 01 01 000000 01 41 01 64 02 01 00"),
		"down above monitored": mustHex(t, "564842 01 01 000000 01 41 01 64 00 01 02"),
		"empty name":           mustHex(t, "564842 01 01 000000 00 01 64 00 01 00"),
	}
	for name, h := range cases {
		var v arbiter.View
		if err := v.UnmarshalBinary(h); !errors.Is(err, arbiter.ErrMalformed) {
			t.Errorf("%s: err %v, want ErrMalformed", name, err)
		}
	}
	if _, err := (arbiter.View{Members: []arbiter.Member{{Name: "", Monitored: 1}}}).AppendBinary(nil); err == nil {
		t.Error("an empty name encoded")
	}
	if _, err := (arbiter.View{Members: []arbiter.Member{{Name: "x", Monitored: 1, Down: 2}}}).AppendBinary(nil); err == nil {
		t.Error("down above monitored encoded")
	}
	if _, err := (arbiter.View{Members: make([]arbiter.Member, arbiter.MaxMembers+1)}).AppendBinary(nil); err == nil {
		t.Error("too many members encoded")
	}
}

func FuzzWireRoundTrip(f *testing.F) {
	f.Add(mustHex(f, goldenHeartbeat))
	f.Add([]byte("VHB\x01\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var v arbiter.View
		if v.UnmarshalBinary(b) != nil {
			return
		}
		out, err := v.AppendBinary(nil)
		if err != nil {
			t.Fatalf("decoded view does not encode: %v", err)
		}
		if string(out) != string(b) {
			t.Fatalf("round trip\n %x\n %x", b, out)
		}
	})
}
