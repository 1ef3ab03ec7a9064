package nftfilter

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/testnet"
)

// nsExec is an Exec that runs nft inside h's namespace.
func nsExec(t *testing.T, h *testnet.Host) Exec {
	t.Helper()
	return Exec{Path: testnet.WriteScript(t, t.TempDir(), "nft", `exec ip netns exec `+h.Name()+` nft "$@"`)}
}

// TestScriptsOnKernel commits the generated scripts to a real kernel in a
// namespace: the table is built with its sets filled, a second Ruleset
// replaces it whole (what a start after a crash does), Sync refills the
// sets, Teardown removes it (also when it is already gone), and another
// table is never touched. nft's complaint reaches the error.
func TestScriptsOnKernel(t *testing.T) {
	testnet.NeedRoot(t, "nft", "ip")
	h := testnet.New(t).Host("fw")
	x := nsExec(t, h)
	ctx := context.Background()
	h.Exec(t, "nft", "add table inet other; add set inet other vips4 { type ipv4_addr; }; add element inet other vips4 { 192.0.2.9 }")
	cfg := Config{Priority: -1, Counters: true}
	apply := func(script string, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if err := x.Apply(ctx, script); err != nil {
			t.Fatalf("%v\n%s", err, script)
		}
	}
	set := func(name string) string { return h.Exec(t, "nft", "list", "set", "inet", "vigil", name) }

	apply(Ruleset(cfg, []Elem{{Addr: netip.MustParseAddr("192.0.2.1")}, {Addr: netip.MustParseAddr("2001:db8::1")},
		{Addr: netip.MustParseAddr("fe80::1"), Ifname: "lo"}}))
	if s := set("vips4"); !strings.Contains(s, "192.0.2.1") {
		t.Errorf("vips4:\n%s", s)
	}
	if s := set("vips6_ll"); !strings.Contains(s, `fe80::1 . "lo"`) {
		t.Errorf("vips6_ll:\n%s", s)
	}
	chains := h.Exec(t, "nft", "list", "table", "inet", "vigil")
	for _, want := range []string{"hook input priority filter - 1", "hook output priority filter - 1", "ip daddr @vips4 counter packets 0 bytes 0 drop"} {
		if !strings.Contains(chains, want) {
			t.Errorf("table lacks %q:\n%s", want, chains)
		}
	}

	apply(Ruleset(cfg, []Elem{{Addr: netip.MustParseAddr("198.51.100.7")}}))
	if s := set("vips4"); strings.Contains(s, "192.0.2.1") || !strings.Contains(s, "198.51.100.7") {
		t.Errorf("a second Ruleset kept the old elements:\n%s", s)
	}
	if s := set("vips6"); strings.Contains(s, "2001:db8::1") {
		t.Errorf("a second Ruleset kept the old vips6:\n%s", s)
	}

	apply(Sync(cfg, []Elem{{Addr: netip.MustParseAddr("203.0.113.5")}, {Addr: netip.MustParseAddr("2001:db8::5")}}))
	if s := set("vips4"); strings.Contains(s, "198.51.100.7") || !strings.Contains(s, "203.0.113.5") {
		t.Errorf("Sync:\n%s", s)
	}
	apply(Sync(cfg, nil))
	if s := set("vips6"); strings.Contains(s, "2001:db8::5") {
		t.Errorf("Sync(nil) left:\n%s", s)
	}

	apply(Teardown(cfg))
	apply(Teardown(cfg))
	tables := h.Exec(t, "nft", "list", "tables")
	if strings.Contains(tables, "inet vigil") || !strings.Contains(tables, "inet other") {
		t.Errorf("after Teardown:\n%s", tables)
	}
	if s := h.Exec(t, "nft", "list", "set", "inet", "other", "vips4"); !strings.Contains(s, "192.0.2.9") {
		t.Errorf("the other table changed:\n%s", s)
	}

	// Sync on a missing table fails whole, with nft's words.
	script, _ := Sync(cfg, []Elem{{Addr: netip.MustParseAddr("192.0.2.1")}})
	err := x.Apply(ctx, script)
	if err == nil || !strings.Contains(err.Error(), "No such file or directory") {
		t.Errorf("Sync without a table: %v", err)
	}
	if err := (Exec{Path: filepath.Join(t.TempDir(), "missing")}).Apply(ctx, script); err == nil {
		t.Error("a missing nft binary: no error")
	}
}

// TestNoNft: without nft in PATH the error says so (the daemon ignores it
// when nothing asked for the filter).
func TestNoNft(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if err := (Exec{}).Apply(context.Background(), "list tables\n"); !errors.Is(err, ErrNoNft) {
		t.Errorf("err %v, want ErrNoNft", err)
	}
}
