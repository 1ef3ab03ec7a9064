package conntracksync_test

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	ct "github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/internal/cttest"
	"github.com/vigil-ha/vigil/testnet"
)

// The sync link's batched sends and receives (its own sendmmsg and
// recvmmsg) over a real veth, IPv4 and IPv6: more datagrams than one
// sendmmsg takes, of sizes from 0 bytes to a jumbo datagram, arrive whole
// and in order with the peer's source; a datagram from another address
// arrives marked as not the peer's; every send on a link that went down
// fails and is counted; Receive after Close reports net.ErrClosed.
func TestUDPLinkBatches(t *testing.T) {
	cttest.NeedRoot(t)
	for _, fam := range []struct {
		name        string
		a, b, other string // addresses of u1, u2, and a second one of u1
		prefix      string
	}{
		{"ipv4", "198.51.100.1", "198.51.100.2", "198.51.100.3", "/24"},
		{"ipv6", "2001:db8::1", "2001:db8::2", "2001:db8::3", "/64"},
	} {
		t.Run(fam.name, func(t *testing.T) {
			lab := testnet.New(t)
			h1, h2 := lab.Host("u1"), lab.Host("u2")
			i1, i2 := lab.Wire(h1, "sync0", h2, "sync0")
			i1.AddAddr(t, fam.a+fam.prefix)
			i1.AddAddr(t, fam.other+fam.prefix)
			i2.AddAddr(t, fam.b+fam.prefix)
			if fam.name == "ipv6" {
				for _, h := range []*testnet.Host{h1, h2} {
					h.Sysctl(t, "net.ipv6.conf.sync0.accept_dad", "0")
				}
				time.Sleep(100 * time.Millisecond)
			}
			open := func(h *testnet.Host, local, peer string) ct.Link {
				l, err := ct.OpenUDP(&ct.Config{Interface: "sync0", LocalAddr: netip.MustParseAddr(local),
					PeerAddr: netip.MustParseAddr(peer), Port: 3790, SocketBuffer: 4 << 20, Netns: "/run/netns/" + h.Name()})
				if err != nil {
					t.Fatal(err)
				}
				return l
			}
			l1 := open(h1, fam.a, fam.b)
			l2 := open(h2, fam.b, fam.a)
			defer l2.Close()

			var sent [][]byte
			for i := range 300 {
				size := (i * 37) % 1400
				switch i {
				case 7:
					size = 0
				case 8:
					size = 8900
				}
				d := bytes.Repeat([]byte{byte(i)}, size)
				if size > 0 {
					d[0] = byte(i >> 8)
				}
				sent = append(sent, d)
			}
			failed, err := l1.Send(sent)
			if failed != 0 || err != nil {
				l1.Close()
				t.Fatalf("send: %d failed, %v", failed, err)
			}
			// A datagram from another address of u1's.
			foreign := open(h1, fam.other, fam.b)
			if failed, err := foreign.Send([][]byte{[]byte("not the peer")}); failed != 0 || err != nil {
				t.Fatalf("foreign send: %d failed, %v", failed, err)
			}
			foreign.Close()

			ds := make([]ct.Datagram, 64)
			for i := range ds {
				ds[i].Buf = make([]byte, 9216)
			}
			var got [][]byte
			var fromOther int
			// Receive blocks: closing the link ends a wait for what
			// never comes.
			stop := time.AfterFunc(10*time.Second, func() { l2.Close() })
			for len(got) < len(sent) || fromOther == 0 {
				n, err := l2.Receive(ds)
				if err != nil {
					t.Fatalf("received %d of %d datagrams, %d foreign: %v", len(got), len(sent), fromOther, err)
				}
				for _, d := range ds[:n] {
					if !d.FromPeer {
						if string(d.Buf[:d.N]) != "not the peer" {
							t.Fatalf("a datagram not from the peer: %q", d.Buf[:d.N])
						}
						fromOther++
						continue
					}
					got = append(got, bytes.Clone(d.Buf[:d.N]))
				}
			}
			if !stop.Stop() {
				t.Fatal("the link was closed")
			}
			for i := range sent {
				if !bytes.Equal(got[i], sent[i]) {
					t.Fatalf("datagram %d: got %d bytes, sent %d", i, len(got[i]), len(sent[i]))
				}
			}

			// The link gone down under the sender: every send fails
			// (ENETDOWN, ENETUNREACH) and is counted.
			h1.Exec(t, "ip", "link", "set", "sync0", "down")
			failed, err = l1.Send([][]byte{[]byte("x"), []byte("y")})
			l1.Close()
			if failed != 2 || err == nil {
				t.Fatalf("send on a link that is down: %d failed, %v", failed, err)
			}

			done := make(chan error, 1)
			go func() {
				_, err := l2.Receive(ds)
				done <- err
			}()
			time.Sleep(50 * time.Millisecond)
			l2.Close()
			select {
			case err := <-done:
				if !errors.Is(err, net.ErrClosed) {
					t.Fatalf("receive after close: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("receive did not return after close")
			}
		})
	}
}

// The readers leave a busy loop's backlog in the socket only where the
// kernel granted the room for it: a request of 16 MiB (the least that
// gets the readers' short queue) holds, unread, more full-size datagrams
// than a peer's whole resend queue takes (131,072 messages of IPv4 TCP
// flows with NAT, 100 bytes each, 14 to a datagram); conntrackd.conf's
// usual RcvSocketBuffer of about 1 MB does not, and its link keeps the
// deep queue. The room is what the kernel reports, read back from the
// real socket.
func TestReceiveRoomHoldsAResendWindow(t *testing.T) {
	cttest.NeedRoot(t)
	const window = (131072 + 13) / 14 // datagrams of a full resend queue
	lab := testnet.New(t)
	h1, h2 := lab.Host("r1"), lab.Host("r2")
	i1, i2 := lab.Wire(h1, "sync0", h2, "sync0")
	i1.AddAddr(t, "198.51.100.1/24")
	i2.AddAddr(t, "198.51.100.2/24")
	for _, tc := range []struct {
		buf      int
		queue    int
		holdsAll bool
	}{{16 << 20, ct.RxQueue, true}, {1249280, ct.RxQueueDeep, false}} {
		open := func(h *testnet.Host, local, peer string) ct.Link {
			l, err := ct.OpenUDP(&ct.Config{Interface: "sync0", LocalAddr: netip.MustParseAddr(local),
				PeerAddr: netip.MustParseAddr(peer), Port: 3790, SocketBuffer: tc.buf, Netns: "/run/netns/" + h.Name()})
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		tx := open(h1, "198.51.100.1", "198.51.100.2")
		rx := open(h2, "198.51.100.2", "198.51.100.1")
		room := rx.(interface{ ReceiveRoom() int }).ReceiveRoom()
		if got := ct.RxQueueLen(room); got != tc.queue {
			t.Errorf("a SocketBuffer of %d: the kernel granted %d, the readers' queue %d, want %d", tc.buf, room, got, tc.queue)
		}
		// The whole window at once, unread; paced a little so that the
		// veth's backlog, not the socket, is never what drops.
		d := make([]byte, 1472)
		batch := make([][]byte, 250)
		for i := range batch {
			batch[i] = d
		}
		for sent := 0; sent < window; sent += len(batch) {
			if failed, err := tx.Send(batch); failed != 0 || err != nil {
				t.Fatalf("send: %d failed, %v", failed, err)
			}
			time.Sleep(time.Millisecond)
		}
		want := (window + len(batch) - 1) / len(batch) * len(batch)
		ds := make([]ct.Datagram, 64)
		for i := range ds {
			ds[i].Buf = make([]byte, 9216)
		}
		got := 0
		stop := time.AfterFunc(2*time.Second, func() { rx.Close() })
		for got < want {
			n, err := rx.Receive(ds)
			if err != nil {
				break // nothing more came
			}
			got += n
			stop.Reset(500 * time.Millisecond)
		}
		stop.Stop()
		rx.Close()
		tx.Close()
		t.Logf("a SocketBuffer of %d (granted %d) held %d of %d datagrams", tc.buf, room, got, want)
		if tc.holdsAll && got != want {
			t.Errorf("a SocketBuffer of %d held %d of %d datagrams: the readers' short queue would lose the rest", tc.buf, got, want)
		}
		if !tc.holdsAll && got >= want {
			t.Errorf("a SocketBuffer of %d held all %d datagrams: the test no longer shows why it keeps the deep queue", tc.buf, want)
		}
	}
}
