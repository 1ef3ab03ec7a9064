package vip

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestParseScope(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"", 0, true}, {"global", 0, true}, {"universe", 0, true}, {"site", 200, true},
		{"link", 253, true}, {"host", 254, true}, {"nowhere", 255, true}, {"17", 17, true},
		{"255", 255, true}, {"256", 0, false}, {"-1", 0, false}, {"galaxy", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseScope(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseScope(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseScope(%q) error %v does not wrap ErrInvalid", tt.in, err)
		}
	}
}

func TestAddressBroadcast(t *testing.T) {
	tests := []struct {
		a    Address
		want string // "" = none
	}{
		{Address{Prefix: netip.MustParsePrefix("192.0.2.10/24"), BroadcastAuto: true}, "192.0.2.255"},
		{Address{Prefix: netip.MustParsePrefix("192.0.2.10/30"), BroadcastAuto: true}, "192.0.2.11"},
		{Address{Prefix: netip.MustParsePrefix("192.0.2.10/25"), BroadcastAuto: true}, "192.0.2.127"},
		{Address{Prefix: netip.MustParsePrefix("198.51.100.7/20"), BroadcastAuto: true}, "198.51.111.255"},
		{Address{Prefix: netip.MustParsePrefix("192.0.2.10/31"), BroadcastAuto: true}, ""},
		{Address{Prefix: netip.MustParsePrefix("192.0.2.10/32"), BroadcastAuto: true}, ""},
		{Address{Prefix: netip.MustParsePrefix("192.0.2.10/24")}, ""},
		{Address{Prefix: netip.MustParsePrefix("192.0.2.10/32"), Broadcast: netip.MustParseAddr("192.0.2.255")}, "192.0.2.255"},
		{Address{Prefix: netip.MustParsePrefix("2001:db8::1/64"), BroadcastAuto: true}, ""},
		{Address{Prefix: netip.MustParsePrefix("192.0.2.1/32"), Peer: netip.MustParsePrefix("192.0.2.2/24"), BroadcastAuto: true}, "192.0.2.255"},
	}
	for _, tt := range tests {
		got := tt.a.broadcast()
		if (tt.want == "" && got.IsValid()) || (tt.want != "" && got.String() != tt.want) {
			t.Errorf("%s: broadcast = %v, want %q", tt.a, got, tt.want)
		}
	}
}

func TestAddressValidate(t *testing.T) {
	p := netip.MustParsePrefix
	five := 5
	neg := -1
	tests := []struct {
		a       Address
		wantErr string // substring; "" = valid
	}{
		{Address{Prefix: p("192.0.2.10/32"), Dev: "eth0", Label: "eth0:vip", Scope: "link"}, ""},
		{Address{Prefix: p("2001:db8::1/128"), Dev: "eth0", PreferredLft: &five}, ""},
		{Address{Dev: "eth0"}, "no address"},
		{Address{Prefix: p("192.0.2.10/32")}, "no interface"},
		{Address{Prefix: p("192.0.2.10/32"), Dev: "eth0", Label: "eth0:much-too-long"}, "label"},
		{Address{Prefix: p("2001:db8::1/128"), Dev: "eth0", Label: "eth0:v"}, "label"},
		{Address{Prefix: p("2001:db8::1/128"), Dev: "eth0", Broadcast: netip.MustParseAddr("192.0.2.255")}, "broadcast"},
		{Address{Prefix: p("192.0.2.10/32"), Dev: "eth0", Scope: "galaxy"}, "scope"},
		{Address{Prefix: p("192.0.2.10/32"), Dev: "eth0", Peer: p("2001:db8::2/128")}, "peer"},
		{Address{Prefix: p("192.0.2.10/32"), Dev: "eth0", PreferredLft: &neg}, "preferred_lft"},
	}
	for _, tt := range tests {
		err := tt.a.validate()
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tt.a, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalid)):
			t.Errorf("%s: error %v, want ErrInvalid mentioning %q", tt.a, err, tt.wantErr)
		}
	}
}

func TestRouteValidate(t *testing.T) {
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	tests := []struct {
		r       Route
		wantTyp int
		wantErr string
	}{
		{Route{Dst: p("198.51.100.0/24"), Via: a("192.0.2.254")}, rtnUnicast, ""},
		{Route{Dst: p("198.51.100.0/24"), Dev: "eth0", Type: "unicast"}, rtnUnicast, ""},
		{Route{Dst: p("0.0.0.0/0"), Via: a("192.0.2.254"), Src: a("192.0.2.10")}, rtnUnicast, ""},
		{Route{Dst: p("203.0.113.0/24"), Type: "blackhole"}, rtnBlackhole, ""},
		{Route{Dst: p("203.0.113.0/24"), Type: "unreachable"}, rtnUnreachable, ""},
		{Route{Dst: p("203.0.113.0/24"), Type: "prohibit"}, rtnProhibit, ""},
		{Route{Dst: p("203.0.113.0/24"), Type: "throw", Table: 100}, rtnThrow, ""},
		{Route{Dst: p("203.0.113.0/24"), Type: "blackhole", Dev: "eth0"}, 0, "no via, dev or nexthop"},
		{Route{Dst: p("203.0.113.0/24")}, 0, "needs via, dev or nexthop"},
		{Route{Dst: p("203.0.113.1/24"), Dev: "eth0"}, 0, "host bits"},
		{Route{Dst: p("203.0.113.0/24"), Via: a("2001:db8::1")}, 0, "family"},
		{Route{Dst: p("203.0.113.0/24"), Dev: "eth0", Type: "nat"}, 0, "route type"},
		{Route{Dst: p("203.0.113.0/24"), Dev: "eth0", Metric: -1}, 0, "negative"},
		{Route{Via: a("192.0.2.1")}, 0, "no destination"},
	}
	for _, tt := range tests {
		typ, err := tt.r.validate()
		switch {
		case tt.wantErr == "" && (err != nil || typ != tt.wantTyp):
			t.Errorf("%s: got %d, %v; want type %d", tt.r, typ, err, tt.wantTyp)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalid)):
			t.Errorf("%s: error %v, want ErrInvalid mentioning %q", tt.r, err, tt.wantErr)
		}
	}
}

func TestRouteError(t *testing.T) {
	r1 := Route{Dst: netip.MustParsePrefix("198.51.100.0/24"), Dev: "eth9"}
	r2 := Route{Dst: netip.MustParsePrefix("203.0.113.0/24"), Type: "blackhole"}
	e := &RouteError{Op: "add", Failed: []FailedRoute{
		{Route: r1, Retry: true, Err: ErrNoDevice},
		{Route: r2, Err: ErrConflict},
	}}
	if !errors.Is(e, ErrNoDevice) || !errors.Is(e, ErrConflict) || errors.Is(e, ErrNoSource) {
		t.Errorf("errors.Is over RouteError wrong: %v", e)
	}
	if got := e.Retryable(); len(got) != 1 || !reflect.DeepEqual(got[0], r1) {
		t.Errorf("Retryable = %v, want [%v]", got, r1)
	}
	if got := e.Routes(); len(got) != 2 || !reflect.DeepEqual(got[1], r2) {
		t.Errorf("Routes = %v", got)
	}
	for _, want := range []string{"2 route(s) failed to add", "198.51.100.0/24 dev eth9", "blackhole 203.0.113.0/24"} {
		if !strings.Contains(e.Error(), want) {
			t.Errorf("Error() = %q, missing %q", e.Error(), want)
		}
	}
}

func TestRuleValidateAndString(t *testing.T) {
	p := netip.MustParsePrefix
	tests := []struct {
		r       Rule
		str     string
		wantErr string
	}{
		{Rule{From: p("192.0.2.10/32"), Table: 100, Priority: 100}, "from 192.0.2.10/32 priority 100 table 100", ""},
		{Rule{To: p("2001:db8::/32"), IIF: "eth0", Table: 5}, "-6 from all to 2001:db8::/32 iif eth0 table 5", ""},
		{Rule{IPv6: true, FwMark: 0x10, Table: 7}, "-6 from all fwmark 0x10/0xffffffff table 7", ""},
		{Rule{FwMark: 0x10, FwMask: 0xf0, OIF: "eth1", Table: 7}, "from all oif eth1 fwmark 0x10/0xf0 table 7", ""},
		{Rule{From: p("192.0.2.0/24"), To: p("2001:db8::/32"), Table: 1}, "", "different families"},
		{Rule{From: p("192.0.2.1/24"), Table: 1}, "", "host bits"},
		{Rule{From: p("192.0.2.0/24")}, "", "table 0"},
		{Rule{Table: 1, Priority: -1}, "", "priority"},
	}
	for _, tt := range tests {
		err := tt.r.validate()
		if tt.wantErr == "" {
			if err != nil || tt.r.String() != tt.str {
				t.Errorf("%+v: String %q, err %v; want %q", tt.r, tt.r.String(), err, tt.str)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: err %v, want ErrInvalid mentioning %q", tt.r, err, tt.wantErr)
		}
	}
}

func TestRelate(t *testing.T) {
	a := func(cidr, dev string) Address { return Address{Prefix: netip.MustParsePrefix(cidr), Dev: dev} }
	peer := func(x Address, p string) Address { x.Peer = netip.MustParsePrefix(p); return x }
	label := func(x Address, l string) Address { x.Label = l; return x }
	tests := []struct {
		name string
		x, y Address
		want Relation
	}{
		{"same v4", a("192.0.2.10/32", "eth0"), a("192.0.2.10/32", "eth0"), Same},
		{"label is not identity", label(a("192.0.2.10/32", "eth0"), "eth0:x"), a("192.0.2.10/32", "eth0"), Same},
		{"other interface", a("192.0.2.10/32", "eth0"), a("192.0.2.10/32", "eth1"), Distinct},
		{"v4 prefix lengths coexist", a("192.0.2.10/24", "eth0"), a("192.0.2.10/32", "eth0"), Distinct},
		{"v4 other peer", peer(a("192.0.2.1/32", "eth0"), "192.0.2.2/32"), peer(a("192.0.2.1/32", "eth0"), "192.0.2.3/32"), Conflict},
		{"v4 same peer", peer(a("192.0.2.1/32", "eth0"), "192.0.2.2/32"), peer(a("192.0.2.1/32", "eth0"), "192.0.2.2/32"), Same},
		{"v4 peer length is the prefix", peer(a("192.0.2.1/32", "eth0"), "192.0.2.2/24"), peer(a("192.0.2.1/32", "eth0"), "192.0.2.2/32"), Distinct},
		{"v6 same", a("2001:db8::1/128", "eth0"), a("2001:db8::1/128", "eth0"), Same},
		{"v6 prefix lengths conflict", a("2001:db8::1/64", "eth0"), a("2001:db8::1/128", "eth0"), Conflict},
		{"v6 other address", a("2001:db8::1/64", "eth0"), a("2001:db8::2/64", "eth0"), Distinct},
	}
	for _, tt := range tests {
		if got := Relate(tt.x, tt.y); got != tt.want {
			t.Errorf("%s: Relate = %d, want %d", tt.name, got, tt.want)
		}
		if got := Relate(tt.y, tt.x); got != tt.want {
			t.Errorf("%s: Relate is not symmetric: %d", tt.name, got)
		}
	}
}
