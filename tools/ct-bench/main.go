// Command ct-bench measures vigil's conntrack replication against Debian's
// conntrackd in the same lab and run, and prints both side by side:
// commit of the external cache into the kernel (10k and 100k entries), CPU
// per replicated entry on the event path for sender and receiver, bulk
// resync of the whole table, and peak RSS.
//
// It builds four network namespaces: a vigil pair and a conntrackd pair,
// each joined by its own veth sync link, and writes the same flows into
// both senders' kernels. Each vigil node runs in a child process (this
// binary's "node" mode) so that its CPU time and RSS are measured from
// /proc exactly like conntrackd's. Needs root, ip, conntrack, conntrackd.
//
//	go run ./tools/ct-bench [-n 100000] [-small 10000]
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/ctnetlink"
	"github.com/vigil-ha/vigil/testnet"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "node" {
		if err := runNode(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "ct-bench node:", err)
			os.Exit(1)
		}
		return
	}
	n := flag.Int("n", 100000, "entries for the large stage")
	small := flag.Int("small", 10000, "entries for the small stage")
	flag.Parse()
	if err := bench(*small, *n); err != nil {
		fmt.Fprintln(os.Stderr, "ct-bench:", err)
		os.Exit(1)
	}
}

// vnode is a vigil node child process.
type vnode struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func (v *vnode) call(format string, args ...any) (map[string]any, error) {
	if _, err := fmt.Fprintf(v.in, format+"\n", args...); err != nil {
		return nil, err
	}
	if !v.out.Scan() {
		return nil, fmt.Errorf("node exited: %v", v.out.Err())
	}
	var m map[string]any
	err := json.Unmarshal(v.out.Bytes(), &m)
	return m, err
}

func (v *vnode) num(key string) int {
	m, err := v.call("stats")
	if err != nil {
		return -1
	}
	f, _ := m[key].(float64)
	return int(f)
}

// procCPU returns a process's CPU time (the sum of its threads'
// /proc/PID/task/TID/schedstat run times, nanosecond resolution), and its
// peak RSS (VmHWM).
func procCPU(pid int) (time.Duration, int64) {
	var cpu time.Duration
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) > 0 {
			ns, _ := strconv.ParseInt(f[0], 10, 64)
			cpu += time.Duration(ns)
		}
	}
	var hwm int64
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "VmHWM:") {
				hwm, _ = strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			}
		}
	}
	return cpu, hwm * 1024
}

// genFlows builds n distinct established TCP and UDP flows, a tenth of
// them source-NATed.
func genFlows(from, n int) []conntracksync.Entry {
	out := make([]conntracksync.Entry, 0, n)
	now := time.Now()
	for i := from; i < from+n; i++ {
		f := conntracksync.Flow{
			Orig: conntracksync.Tuple{Src: netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i%250)}),
				Dst:     netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + (i/250)%240)}),
				Proto:   conntracksync.ProtoTCP,
				SrcPort: uint16(1024 + i%60000), DstPort: uint16(80 + i/60000)},
			Status:     conntracksync.StatusSeenReply | conntracksync.StatusAssured | conntracksync.StatusConfirmed,
			TCPState:   conntracksync.TCPEstablished,
			TimeoutSec: 3600,
		}
		if i%3 == 1 {
			f.Orig.Proto, f.TCPState = conntracksync.ProtoUDP, 0
		}
		f.Reply = f.Orig.Invert()
		if i%10 == 2 {
			f.Reply.Dst = netip.MustParseAddr("203.0.113.1")
			f.Reply.DstPort = uint16(10000 + i/10)
		}
		out = append(out, conntracksync.Entry{Flow: f, Updated: now})
	}
	return out
}

func inject(netns string, es []conntracksync.Entry) error {
	c, err := ctnetlink.NewCommitter(2, netns)
	if err != nil {
		return err
	}
	defer c.Close()
	st, err := c.Commit(context.Background(), es, time.Now(), 0)
	if err == nil && st.Created != len(es) {
		err = fmt.Errorf("injected %d of %d flows: %v", st.Created, len(es), st.Errors)
	}
	return err
}

func waitFor(what string, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}

func kernelCount(h *testnet.Host) int {
	out, err := h.Command(context.Background(), "conntrack", "-C").Output()
	if err != nil {
		return -1
	}
	v, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return v
}

type row struct{ name, vigil, ctd, note string }

func bench(small, large int) error {
	t := testnet.NewStandalone("ct-bench", os.Stderr)
	defer t.Close()
	t.CloseOnSignal()
	lab := testnet.New(t)
	v1, v2, c1, c2 := lab.Host("v1"), lab.Host("v2"), lab.Host("c1"), lab.Host("c2")
	for _, pair := range [][2]*testnet.Host{{v1, v2}, {c1, c2}} {
		a, b := lab.Wire(pair[0], "sync0", pair[1], "sync0")
		a.AddAddr(t, "203.0.113.201/24")
		b.AddAddr(t, "203.0.113.202/24")
	}
	ns := func(h *testnet.Host) string { return "/run/netns/" + h.Name() }

	self, err := os.Executable()
	if err != nil {
		return err
	}
	startNode := func(h *testnet.Host, local, peer string) (*vnode, error) {
		cmd := exec.Command(self, "node", "-netns", ns(h), "-local", local, "-peer", peer, "-iface", "sync0")
		in, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		t.Cleanup(func() {
			// Closing stdin ends the node cleanly (profiles flushed);
			// SIGKILL if it does not exit soon.
			_ = in.Close()
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Signal(syscall.SIGKILL)
				<-done
			}
		})
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		return &vnode{cmd: cmd, in: in, out: sc}, nil
	}
	vs, err := startNode(v1, "203.0.113.201", "203.0.113.202")
	if err != nil {
		return err
	}
	vr, err := startNode(v2, "203.0.113.202", "203.0.113.201")
	if err != nil {
		return err
	}
	var ctds [2]*testnet.Conntrackd
	for i, h := range []*testnet.Host{c1, c2} {
		local, peer := "203.0.113.201", "203.0.113.202"
		if i == 1 {
			local, peer = peer, local
		}
		ctds[i] = h.Conntrackd(t, testnet.ConntrackdConfig{Local: local, Peer: peer, Interface: "sync0",
			SocketBuffer: 16 << 20, HashSize: 65536, NetlinkBuffer: 32 << 20})
	}
	cs, cr := ctds[0], ctds[1]
	if err := waitFor("vigil handshake", 10*time.Second, func() bool {
		m, _ := vs.call("stats")
		est, _ := m["established"].(bool)
		return est
	}); err != nil {
		return err
	}
	if err := waitFor("conntrackd start", 10*time.Second, func() bool { return cr.ExternalCount(context.Background()) == 0 }); err != nil {
		return err
	}
	time.Sleep(1500 * time.Millisecond) // conntrackd's HELLO rides on its 1 s ALIVE

	var rows []row
	us := func(d time.Duration, n int) string {
		return fmt.Sprintf("%.2f µs", float64(d.Nanoseconds())/1000/float64(n))
	}

	// Stage 1: small, event path + commit.
	stage := func(from, n, total int) (vsCPU, vrCPU, csCPU, crCPU time.Duration, err error) {
		es := genFlows(from, n)
		pids := []int{vs.cmd.Process.Pid, vr.cmd.Process.Pid, cs.Pid(), cr.Pid()}
		var before [4]time.Duration
		for i, p := range pids {
			before[i], _ = procCPU(p)
		}
		if err = inject(ns(v1), es); err != nil {
			return
		}
		if err = inject(ns(c1), es); err != nil {
			return
		}
		if err = waitFor("vigil receiver", 120*time.Second, func() bool { return vr.num("external") >= total }); err != nil {
			return
		}
		if err = waitFor("conntrackd receiver", 120*time.Second, func() bool { return cr.ExternalCount(context.Background()) >= total }); err != nil {
			return
		}
		var after [4]time.Duration
		for i, p := range pids {
			after[i], _ = procCPU(p)
		}
		return after[0] - before[0], after[1] - before[1], after[2] - before[2], after[3] - before[3], nil
	}
	commit := func(n int) error {
		t0 := time.Now()
		m, err := vr.call("commit")
		vigil := time.Since(t0)
		if err != nil {
			return err
		}
		if f, _ := m["failed"].(float64); f != 0 {
			return fmt.Errorf("vigil commit: %v", m)
		}
		t0 = time.Now()
		if out, err := cr.Client(context.Background(), "-c"); err != nil {
			return fmt.Errorf("conntrackd -c: %v: %s", err, out)
		}
		ctd := time.Since(t0)
		kv, kc := kernelCount(v2), kernelCount(c2)
		kms, _ := m["kernel_ms"].(float64)
		rows = append(rows, row{fmt.Sprintf("commit %dk entries", n/1000), fmt.Sprintf("%.1f ms", ms(vigil)), fmt.Sprintf("%.1f ms", ms(ctd)),
			fmt.Sprintf("%.1fx faster (vigil's netlink part %.1f ms); kernel holds %d / %d", float64(ctd)/float64(vigil), kms, kv, kc)})
		return nil
	}

	a, b, c, d, err := stage(0, small, small)
	if err != nil {
		return err
	}
	rows = append(rows, row{fmt.Sprintf("CPU/entry sender, event path (%dk)", small/1000), us(a, small), us(c, small), ""},
		row{fmt.Sprintf("CPU/entry receiver, event path (%dk)", small/1000), us(b, small), us(d, small), ""})
	if err := commit(small); err != nil {
		return err
	}
	for _, h := range []*testnet.Host{v2, c2} {
		h.Exec(t, "conntrack", "-F")
	}
	a, b, c, d, err = stage(small, large-small, large)
	if err != nil {
		return err
	}
	m := large - small
	rows = append(rows, row{fmt.Sprintf("CPU/entry sender, event path (%dk)", m/1000), us(a, m), us(c, m), ""},
		row{fmt.Sprintf("CPU/entry receiver, event path (%dk)", m/1000), us(b, m), us(d, m), ""})
	var rss [4]int64
	for i, p := range []int{vs.cmd.Process.Pid, vr.cmd.Process.Pid, cs.Pid(), cr.Pid()} {
		_, rss[i] = procCPU(p)
	}
	mb := func(x int64) string { return fmt.Sprintf("%.1f MB", float64(x)/1e6) }
	rows = append(rows, row{fmt.Sprintf("peak RSS sender, %dk entries", large/1000), mb(rss[0]), mb(rss[2]), ""},
		row{fmt.Sprintf("peak RSS receiver, %dk entries", large/1000), mb(rss[1]), mb(rss[3]), ""})

	// Bulk resync of the whole table to the receiver.
	rtx0 := vs.num("retransmits")
	rm, err := vr.call("resync %d", large)
	if err != nil {
		return err
	}
	vms, _ := rm["ms"].(float64)
	if out, err := cr.Client(context.Background(), "-f", "external"); err != nil {
		return fmt.Errorf("conntrackd -f external: %v: %s", err, out)
	}
	t0 := time.Now()
	if out, err := cr.Client(context.Background(), "-n"); err != nil {
		return fmt.Errorf("conntrackd -n: %v: %s", err, out)
	}
	if err := waitFor("conntrackd resync", 60*time.Second, func() bool { return cr.ExternalCount(context.Background()) >= large }); err != nil {
		return err
	}
	rows = append(rows, row{fmt.Sprintf("bulk resync %dk entries", large/1000), fmt.Sprintf("%.1f ms", vms), fmt.Sprintf("%.1f ms", ms(time.Since(t0))),
		fmt.Sprintf("receiver flush + request → external cache full; vigil retransmits %d (conntrackd polled with -s)", vs.num("retransmits")-rtx0)})

	if err := commit(large); err != nil {
		return err
	}

	// The same commit with no other conntrack listener on the host, as on a
	// real firewall: netlink's "has listeners" test is global, so the other
	// daemons of this lab make the kernel build an event per created flow
	// even while vigil's own event socket is out of the NEW group.
	for _, p := range ctds {
		_ = p.Kill()
	}
	_ = vs.in.Close()
	_ = vs.cmd.Wait()
	v2.Exec(t, "conntrack", "-F")
	time.Sleep(300 * time.Millisecond) // let the flush's destroy events drain
	t0 = time.Now()
	m2, err := vr.call("commit")
	if err != nil {
		return err
	}
	alone := time.Since(t0)
	kms2, _ := m2["kernel_ms"].(float64)
	rows = append(rows, row{fmt.Sprintf("commit %dk, vigil alone on the host", large/1000), fmt.Sprintf("%.1f ms", ms(alone)), "-",
		fmt.Sprintf("netlink part %.1f ms; kernel holds %d", kms2, kernelCount(v2))})

	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("\nct-bench %s, %d CPUs, load average %s", time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), load)
	fmt.Printf("CPU: sum of the process's threads' run time (/proc/PID/task/*/schedstat) while the receiver caught up;\n")
	fmt.Printf("RSS: VmHWM. Commit: wall time of Replicator.Commit (via the node) vs `conntrackd -c`.\n")
	fmt.Printf("\n%-42s %14s %14s   %s\n", "measure", "vigil", "conntrackd", "")
	for _, r := range rows {
		fmt.Printf("%-42s %14s %14s   %s\n", r.name, r.vigil, r.ctd, r.note)
	}
	return nil
}
