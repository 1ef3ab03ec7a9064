package cttest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ti-mo/conntrack"
	"github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/internal/nsenter"
	"github.com/vigil-ha/vigil/testnet"
)

func Logger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func KernelFlows(t testing.TB, ns NS) map[conntracksync.Key]conntracksync.Flow {
	t.Helper()
	var kf []conntrack.Flow
	err := nsenter.Do(ns.Path(), func() error {
		c, err := conntrack.Dial(nil)
		if err != nil {
			return err
		}
		defer c.Close()
		kf, err = c.Dump(nil)
		return err
	})
	if err != nil {
		t.Fatalf("dump %s: %v", ns.Name, err)
	}
	out := make(map[conntracksync.Key]conntracksync.Flow, len(kf))
	for i := range kf {
		f := FromKernel(&kf[i])
		out[f.Key()] = f
	}
	return out
}

// CheckKernel fails unless every flow is in the kernel with its reply tuple
// (NAT), mark, TCP state, master, and a timeout within slack of want.
func CheckKernel(t testing.TB, ns NS, flows []conntracksync.Flow, want func(*conntracksync.Flow) uint32, slack uint32) {
	t.Helper()
	got := KernelFlows(t, ns)
	bad := 0
	for i := range flows {
		f := &flows[i]
		k, ok := got[f.Key()]
		var why string
		switch {
		case !ok:
			why = "missing"
		case k.Reply != f.Reply:
			why = fmt.Sprintf("reply %s, want %s", k.Reply, f.Reply)
		case k.Mark != f.Mark:
			why = fmt.Sprintf("mark %d, want %d", k.Mark, f.Mark)
		case k.TCPState != f.TCPState:
			why = fmt.Sprintf("tcp state %s, want %s", conntracksync.TCPStateName(k.TCPState), conntracksync.TCPStateName(f.TCPState))
		case k.Master != f.Master:
			why = fmt.Sprintf("master %s, want %s", k.Master, f.Master)
		case k.TimeoutSec > want(f) || k.TimeoutSec+slack < want(f):
			why = fmt.Sprintf("timeout %d, want %d", k.TimeoutSec, want(f))
		case k.Status&(conntracksync.StatusSeenReply|conntracksync.StatusAssured) != f.Status&(conntracksync.StatusSeenReply|conntracksync.StatusAssured):
			why = fmt.Sprintf("status %#x, want %#x", k.Status, f.Status)
		case k.Status&(conntracksync.StatusSrcNAT|conntracksync.StatusDstNAT) != NATStatus(f):
			// A reply tuple that only looks translated is not NAT: the
			// kernel must have set the translation up itself.
			why = fmt.Sprintf("NAT status %#x, want %#x", k.Status&(conntracksync.StatusSrcNAT|conntracksync.StatusDstNAT), NATStatus(f))
		}
		if why != "" {
			bad++
			if bad <= 10 {
				t.Errorf("flow %s: %s", f, why)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d flows wrong in the kernel (kernel holds %d)", bad, len(flows), len(got))
	}
}

// NATStatus is the NAT status the kernel gives f once it is NATed.
func NATStatus(f *conntracksync.Flow) uint32 {
	var st uint32
	if _, _, ok := f.SNAT(); ok {
		st |= conntracksync.StatusSrcNAT
	}
	if _, _, ok := f.DNAT(); ok {
		st |= conntracksync.StatusDstNAT
	}
	return st
}

// An independent decoder for the tests: ti-mo/conntrack's, converted to
// our Flow, to check ours against.

// FromKernel converts a ti-mo flow to ours.
func FromKernel(k *conntrack.Flow) conntracksync.Flow {
	f := conntracksync.Flow{
		Orig:       tupleFromKernel(k.TupleOrig),
		Reply:      tupleFromKernel(k.TupleReply),
		Zone:       k.Zone,
		Status:     uint32(k.Status.Value),
		TimeoutSec: k.Timeout,
		Mark:       k.Mark,
		Helper:     k.Helper.Name,
		SeqAdjOrig: conntracksync.SeqAdj{CorrectionPos: k.SeqAdjOrig.Position, OffsetBefore: k.SeqAdjOrig.OffsetBefore,
			OffsetAfter: k.SeqAdjOrig.OffsetAfter},
		SeqAdjReply: conntracksync.SeqAdj{CorrectionPos: k.SeqAdjReply.Position, OffsetBefore: k.SeqAdjReply.OffsetBefore,
			OffsetAfter: k.SeqAdjReply.OffsetAfter},
	}
	if k.TupleMaster.IP.SourceAddress.IsValid() {
		f.Master = tupleFromKernel(k.TupleMaster)
	}
	if t := k.ProtoInfo.TCP; t != nil {
		f.TCPState, f.TCPWScaleOrig, f.TCPWScaleRep = t.State, t.OriginalWindowScale, t.ReplyWindowScale
	}
	if s := k.ProtoInfo.SCTP; s != nil {
		f.SCTPState, f.SCTPVTagOrig, f.SCTPVTagRep = s.State, s.VTagOriginal, s.VTagReply
	}
	if d := k.ProtoInfo.DCCP; d != nil {
		f.DCCPState, f.DCCPRole = d.State, d.Role
	}
	if strings.Trim(string(k.Labels), "\x00") != "" {
		f.Labels = string(k.Labels)
	}
	return f
}

func tupleFromKernel(t conntrack.Tuple) conntracksync.Tuple {
	out := conntracksync.Tuple{
		Src:   t.IP.SourceAddress.Unmap(),
		Dst:   t.IP.DestinationAddress.Unmap(),
		Proto: t.Proto.Protocol,
	}
	switch t.Proto.Protocol {
	case conntracksync.ProtoICMP, conntracksync.ProtoICMPv6:
		out.ICMPType, out.ICMPCode, out.ICMPID = t.Proto.ICMPType, t.Proto.ICMPCode, t.Proto.ICMPID
	default:
		out.SrcPort, out.DstPort = t.Proto.SourcePort, t.Proto.DestinationPort
	}
	return out
}

// NeedRoot is testnet.NeedRoot with ip always required.
func NeedRoot(t testing.TB, bins ...string) {
	t.Helper()
	testnet.NeedRoot(t, append([]string{"ip"}, bins...)...)
}

func Prefix(t testing.TB) string {
	t.Helper()
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "cs" + hex.EncodeToString(b[:])
}

type NS struct {
	Name string
}

func (n NS) Path() string { return "/run/netns/" + n.Name }

func NewNS(t testing.TB, prefix, name string) NS {
	t.Helper()
	ns := NS{Name: prefix + "-" + name}
	if out, err := exec.Command("ip", "netns", "add", ns.Name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", ns.Name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns.Name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", ns.Name, err, out)
		}
	})
	ns.Exec(t, "ip", "link", "set", "lo", "up")
	return ns
}

func (n NS) Cmd(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

func (n NS) Exec(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := n.Cmd(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %s %s: %v: %s", n.Name, name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Output runs name in the namespace and returns its standard output
// alone, for a caller that parses it: a tool's message on standard error
// (conntrack's "N flow entries have been shown") can land in the middle
// of a buffered line of its standard output. It fails the test if the
// command fails.
func (n NS) Output(t testing.TB, name string, args ...string) string {
	t.Helper()
	var stderr strings.Builder
	cmd := n.Cmd(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %s %s: %v: %s", n.Name, name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// Lazy formats as fn() at the time it is printed.
type Lazy func() string

func (l Lazy) String() string { return l() }

// CPUTime is the process's user+system CPU time so far.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ToKernel converts a flow to ti-mo's, for a reference commit through
// ti-mo/conntrack's Create (NAT as the reply tuple, no helper or
// sequence adjustment).
func ToKernel(f *conntracksync.Flow, timeout uint32) conntrack.Flow {
	k := conntrack.Flow{TupleOrig: tupleToKernel(f.Orig), TupleReply: tupleToKernel(f.Reply),
		Timeout: timeout, Mark: f.Mark, Zone: f.Zone}
	k.Status.Value = conntrack.StatusFlag(f.Status)
	if f.Orig.Proto == conntracksync.ProtoTCP {
		k.ProtoInfo.TCP = &conntrack.ProtoInfoTCP{State: f.TCPState,
			OriginalWindowScale: f.TCPWScaleOrig, ReplyWindowScale: f.TCPWScaleRep}
	}
	if f.Related() {
		k.TupleMaster = tupleToKernel(f.Master)
	}
	return k
}

func tupleToKernel(t conntracksync.Tuple) conntrack.Tuple {
	k := conntrack.Tuple{IP: conntrack.IPTuple{SourceAddress: t.Src, DestinationAddress: t.Dst},
		Proto: conntrack.ProtoTuple{Protocol: t.Proto, SourcePort: t.SrcPort, DestinationPort: t.DstPort}}
	switch t.Proto {
	case conntracksync.ProtoICMP, conntracksync.ProtoICMPv6:
		k.Proto.ICMPv4, k.Proto.ICMPv6 = t.Proto == conntracksync.ProtoICMP, t.Proto == conntracksync.ProtoICMPv6
		k.Proto.ICMPID, k.Proto.ICMPType, k.Proto.ICMPCode = t.ICMPID, t.ICMPType, t.ICMPCode
	}
	return k
}
