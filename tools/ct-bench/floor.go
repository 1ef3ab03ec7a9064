//go:build linux

package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/internal/memtrim"
	"github.com/vigil-ha/vigil/internal/nsenter"
	"github.com/vigil-ha/vigil/internal/syncworker"
	"golang.org/x/sys/unix"
)

// The floors: what the kernel and the link cost on their own, measured in
// the same run as vigil and conntrackd so that the gap between vigil and
// the floor is what vigil's own code costs.

// floorCommit is the kernel's insert floor: the datagrams vigil's commit
// sends (ctnetlink.EncodeCreates, encoded before the clock starts) written
// by the smallest sender there is: workers raw NETLINK_NETFILTER sockets
// with the committer's buffer sizes, each writing its share of the
// datagrams in order and reading the replies of each until the
// acknowledgement of its last request. It returns the wall time and how
// many requests the kernel refused.
func floorCommit(netns string, workers int, dgrams [][]byte) (time.Duration, int, error) {
	fds := make([]int, workers)
	err := nsenter.Do(netns, func() error {
		for i := range fds {
			fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
			if err != nil {
				return err
			}
			fds[i] = fd
			if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
				return err
			}
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 4<<20)
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20)
			_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
		}
		return nil
	})
	defer func() {
		for _, fd := range fds {
			if fd > 0 {
				unix.Close(fd)
			}
		}
	}()
	if err != nil {
		return 0, 0, err
	}
	last := make([]uint32, len(dgrams)) // the sequence number of each datagram's last request
	for i, d := range dgrams {
		for len(d) >= 16 {
			l := int(binary.NativeEndian.Uint32(d))
			last[i] = binary.NativeEndian.Uint32(d[8:])
			d = d[(l+3)&^3:]
		}
	}
	per := (len(dgrams) + workers - 1) / workers
	refused := make([]int, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		lo, hi := min(len(dgrams), w*per), min(len(dgrams), (w+1)*per)
		wg.Go(func() {
			rb := make([]byte, 1<<16)
			for i := lo; i < hi; i++ {
				if _, err := unix.Write(fds[w], dgrams[i]); err != nil {
					errs[w] = err
					return
				}
				for acked := false; !acked; {
					n, err := unix.Read(fds[w], rb)
					if err != nil {
						errs[w] = err
						return
					}
					for b := rb[:n]; len(b) >= 20; {
						l := int(binary.NativeEndian.Uint32(b))
						if l < 16 || l > len(b) {
							break
						}
						if binary.NativeEndian.Uint16(b[4:]) == unix.NLMSG_ERROR {
							if binary.NativeEndian.Uint32(b[16:]) != 0 {
								refused[w]++
							}
							if binary.NativeEndian.Uint32(b[8:]) == last[i] {
								acked = true
							}
						}
						b = b[min(len(b), (l+3)&^3):]
					}
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	n := 0
	for _, r := range refused {
		n += r
	}
	return took, n, errors.Join(errs...)
}

// linkReceiver counts the datagrams that reach a UDP socket of the sync
// link's kind (conntracksync.OpenUDP) and when the last one came.
type linkReceiver struct {
	l    conntracksync.Link
	mu   sync.Mutex
	n    int
	last time.Time
	done chan struct{}
}

func newLinkReceiver(netns, iface string, local, peer netip.Addr, port uint16) (*linkReceiver, error) {
	l, err := conntracksync.OpenUDP(&conntracksync.Config{Interface: iface, LocalAddr: local, PeerAddr: peer, Port: port,
		Netns: netns, SocketBuffer: 32 << 20})
	if err != nil {
		return nil, err
	}
	r := &linkReceiver{l: l, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		ds := make([]conntracksync.Datagram, 64)
		for i := range ds {
			ds[i].Buf = make([]byte, 9216)
		}
		for {
			n, err := l.Receive(ds)
			if err != nil {
				return
			}
			now := time.Now()
			r.mu.Lock()
			r.n += n
			r.last = now
			r.mu.Unlock()
		}
	}()
	return r, nil
}

func (r *linkReceiver) reset() {
	r.mu.Lock()
	r.n, r.last = 0, time.Time{}
	r.mu.Unlock()
}

func (r *linkReceiver) count() (int, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n, r.last
}

func (r *linkReceiver) close() {
	_ = r.l.Close()
	<-r.done
}

// The restarted peer's floor: a new process (this command's "floor-recv"
// mode, the same static copy the vigil nodes run) that opens a socket of
// the sync link's kind, says it is ready, and keeps every datagram of a
// bulk it receives in fresh memory: what any restarted receiver must do at
// least (start, receive the bytes, hold them), with nothing of its own
// (no protocol, no decoding, no cache). runFloorRecv prints one JSON line
// when its socket is open ("ready_unix_ns") and one once no datagram came
// for 300 ms after the first ("done_unix_ns", the time the last one was
// kept; "datagrams", "bytes", the chunks of 1 MiB holding them, and its
// own "minflt" and "cpu_ms" when it was kept), and exits. A bulk's
// datagram count varies by one or two from one encoding to the next,
// with the map order that packs its flows, so the floor is not told how
// many to wait for.
func runFloorRecv(args []string) error {
	fs := flag.NewFlagSet("floor-recv", flag.ContinueOnError)
	netns, local, peer, iface := linkFlags(fs)
	port := fs.Uint("port", 0, "UDP port")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// The collector and the Ps of the vigil nodes (runNode). Not their
	// memory without transparent huge pages: the floor takes what the
	// host gives, so that with the "always" mode it is the lower one.
	memtrim.SetGC()
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(syncworker.WorkerProcs)
	}
	l, err := conntracksync.OpenUDP(&conntracksync.Config{Interface: *iface, LocalAddr: netip.MustParseAddr(*local),
		PeerAddr: netip.MustParseAddr(*peer), Port: uint16(*port), Netns: *netns, SocketBuffer: 32 << 20})
	if err != nil {
		return err
	}
	out := json.NewEncoder(os.Stdout)
	_ = out.Encode(map[string]any{"ready_unix_ns": time.Now().UnixNano()})
	type result struct {
		n, bytes int
		last     time.Time
		ru       unix.Rusage // when the last one was kept
		kept     [][]byte    // the chunks that hold the datagrams
	}
	var (
		mu  sync.Mutex
		res result
	)
	go func() {
		ds := make([]conntracksync.Datagram, 64)
		for i := range ds {
			ds[i].Buf = make([]byte, 9216)
		}
		// The datagrams are kept in chunks of 1 MiB, each fresh.
		var chunk []byte
		var kept [][]byte
		bytes := 0
		for {
			n, err := l.Receive(ds)
			if err != nil {
				return
			}
			kept0 := 0
			for _, d := range ds[:n] {
				if !d.FromPeer {
					continue // not the sender's: a receiver drops it too
				}
				kept0++
				if cap(chunk)-len(chunk) < d.N {
					chunk = make([]byte, 0, 1<<20)
					kept = append(kept, chunk)
				}
				chunk = append(chunk, d.Buf[:d.N]...)
				bytes += d.N
			}
			now := time.Now()
			var ru unix.Rusage
			_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
			mu.Lock()
			res.n += kept0
			res.bytes = bytes
			res.last, res.ru, res.kept = now, ru, kept
			mu.Unlock()
		}
	}()
	var r result
	for {
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		r = res
		mu.Unlock()
		if !r.last.IsZero() && time.Since(r.last) > 300*time.Millisecond {
			break
		}
	}
	cpu := time.Duration(r.ru.Utime.Nano() + r.ru.Stime.Nano())
	_ = out.Encode(map[string]any{"done_unix_ns": r.last.UnixNano(), "datagrams": r.n, "bytes": r.bytes,
		"chunks": len(r.kept), "minflt": r.ru.Minflt, "cpu_ms": ms(cpu)})
	return l.Close()
}

// floorPort is the restarted peer's floor's port (the link floor has 3790).
const floorPort = 3791

// restartFloor measures the restarted peer's floor once: it starts
// bin's floor-recv in netns (the receivers' namespace), has the vigil
// sender vs send its bulk's datagrams there once the socket is open, and
// returns, in ms, the time from the exec until the socket was open plus
// the time from the first send until the last datagram was kept: the
// sender's encoding and the bench's own hand-over between the two are
// left out. It also returns how many of the datagrams sent never came
// (the floor is then until the last one that came).
func restartFloor(bin, netns string, vs *vnode) (float64, int, error) {
	t0 := time.Now()
	cmd := exec.Command(bin, "floor-recv", "-netns", netns, "-local", "203.0.113.202", "-peer", "203.0.113.201",
		"-iface", "sync0", "-port", strconv.Itoa(floorPort))
	cmd.Stderr = os.Stderr
	outp, err := cmd.StdoutPipe()
	if err != nil {
		return 0, 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := make(chan map[string]any, 2)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(outp)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				lines <- m
			}
		}
	}()
	next := func(what string) (map[string]any, error) {
		select {
		case m, ok := <-lines:
			if !ok {
				return nil, fmt.Errorf("restarted peer's floor: exited before %s", what)
			}
			return m, nil
		case <-time.After(30 * time.Second):
			return nil, fmt.Errorf("restarted peer's floor: no %s in 30 s", what)
		}
	}
	ready, err := next("its socket")
	if err != nil {
		return 0, 0, err
	}
	sent, err := vs.call("sendraw %d", floorPort)
	if err != nil {
		return 0, 0, err
	}
	done, err := next("the datagrams")
	if err != nil {
		return 0, 0, err
	}
	got, want := int(num(done, "datagrams")), int(num(sent, "datagrams"))
	if got == 0 {
		return 0, 0, fmt.Errorf("restarted peer's floor: no datagram came (sender: %v failed, %v)", sent["failed"], sent["send_err"])
	}
	start := num(ready, "ready_unix_ns") - float64(t0.UnixNano())
	recv := num(done, "done_unix_ns") - num(sent, "t0")
	fl := (start + recv) / 1e6
	fmt.Fprintf(os.Stderr, "ct-bench: restarted peer's floor: %.1f ms (its start %.1f, the datagrams %.1f); %d of %d datagrams, %.1f MB kept; its CPU %.1f ms, %.0f pages first touched\n",
		fl, start/1e6, recv/1e6, got, want, num(done, "bytes")/1e6, num(done, "cpu_ms"), num(done, "minflt"))
	return fl, max(want-got, 0), nil
}
