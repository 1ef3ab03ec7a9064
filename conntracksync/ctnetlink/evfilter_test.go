package ctnetlink

import (
	"encoding/binary"
	"math"
	"testing"

	"golang.org/x/net/bpf"
)

// nlMessage is a netlink message of payload bytes from port id pid, its
// header in order, padded to 4 bytes as the kernel pads it.
func nlMessage(order binary.ByteOrder, pid uint32, payload int) []byte {
	l := nlmsgHdrLen + payload
	b := make([]byte, (l+3)&^3)
	order.PutUint32(b[nlmsgLenOff:], uint32(l))
	order.PutUint16(b[4:], subsysCT<<8|ctMsgNew)
	order.PutUint32(b[nlmsgPidOff:], pid)
	for i := nlmsgHdrLen; i < l; i++ {
		b[i] = byte(i)
	}
	return b
}

// The filter drops a single event of one of our port ids, in either byte
// order, and accepts whole every other skb: another port id, the kernel's
// own (0), and a datagram of several messages even when its first is ours.
func TestPortFilter(t *testing.T) {
	ours := []uint32{0x01020304, 4242, 0xfffff000}
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		prog := portFilter(append([]uint32{0, 4242}, ours...), order)
		vm, err := bpf.NewVM(prog)
		if err != nil {
			t.Fatalf("%v: %v", order, err)
		}
		two := append(nlMessage(order, 4242, 100), nlMessage(order, 77, 100)...)
		cases := []struct {
			name string
			skb  []byte
			drop bool
		}{
			{"ours", nlMessage(order, 4242, 180), true},
			{"ours, padded", nlMessage(order, 0x01020304, 181), true},
			{"ours, largest id", nlMessage(order, 0xfffff000, 20), true},
			{"ours, header only", nlMessage(order, 4242, 0), true},
			{"another port id", nlMessage(order, 4243, 180), false},
			{"byte-swapped id", nlMessage(order, 0x04030201, 180), false},
			{"the kernel's", nlMessage(order, 0, 180), false},
			{"ours first of two", two, false},
		}
		for _, c := range cases {
			got, err := vm.Run(c.skb)
			if err != nil {
				t.Fatalf("%v %s: %v", order, c.name, err)
			}
			if want := map[bool]int{true: 0, false: math.MaxUint32}[c.drop]; got != want {
				t.Errorf("%v %s: filter returned %d, want %d", order, c.name, got, want)
			}
		}
	}
}

func TestPortFilterBounds(t *testing.T) {
	if p := portFilter(nil, binary.NativeEndian); p != nil {
		t.Fatalf("no port ids: %v, want no filter", p)
	}
	if p := portFilter([]uint32{0}, binary.NativeEndian); p != nil {
		t.Fatalf("port id 0 alone: %v, want no filter", p)
	}
	// Beyond maxFilterPids the first ids are filtered, the rest left to
	// the listener's check; the jumps stay in range and it assembles.
	many := make([]uint32, maxFilterPids+10)
	for i := range many {
		many[i] = uint32(1000 + i)
	}
	prog := portFilter(many, binary.NativeEndian)
	if _, err := bpf.Assemble(prog); err != nil {
		t.Fatal(err)
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		pid  uint32
		drop bool
	}{{1000, true}, {1000 + maxFilterPids - 1, true}, {1000 + maxFilterPids, false}, {999, false}} {
		got, _ := vm.Run(nlMessage(binary.NativeEndian, c.pid, 64))
		if (got == 0) != c.drop {
			t.Errorf("port id %d: filter returned %d, want drop %v", c.pid, got, c.drop)
		}
	}
}
