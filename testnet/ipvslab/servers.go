package ipvslab

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// Real is a real server: a namespace with TCP and UDP servers that answer
// every line (TCP) or datagram (UDP) with "<name> <what was sent>".
type Real struct {
	Host *testnet.Host
	Name string
	Addr string

	mu sync.Mutex
	// mu guards the following fields.
	tcp map[int]net.Listener
	udp map[int]net.PacketConn
}

// ServeTCP starts a TCP server on port (all addresses). Connections it
// accepted survive StopTCP; the test's cleanup closes everything.
func (r *Real) ServeTCP(t testing.TB, port int) {
	t.Helper()
	var ln net.Listener
	if err := r.Host.Do(func() (err error) {
		ln, err = net.Listen("tcp4", ":"+strconv.Itoa(port))
		return err
	}); err != nil {
		t.Fatalf("ipvslab: %s: listen tcp %d: %v", r.Name, port, err)
	}
	r.mu.Lock()
	if r.tcp == nil {
		r.tcp = map[int]net.Listener{}
	}
	if r.tcp[port] != nil {
		r.mu.Unlock()
		ln.Close()
		t.Fatalf("ipvslab: %s already serves tcp %d", r.Name, port)
	}
	r.tcp[port] = ln
	r.mu.Unlock()
	var wg sync.WaitGroup
	var conns sync.Map
	t.Cleanup(func() {
		ln.Close()
		conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Store(c, true)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conns.Delete(c)
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := fmt.Fprintf(c, "%s %s", r.Name, line); err != nil {
						return
					}
				}
			}()
		}
	}()
}

// StopTCP closes the listener on port (new connections are refused; a
// health check fails), keeping established connections.
func (r *Real) StopTCP(t testing.TB, port int) {
	t.Helper()
	r.mu.Lock()
	ln := r.tcp[port]
	delete(r.tcp, port)
	r.mu.Unlock()
	if ln == nil {
		t.Fatalf("ipvslab: %s does not serve tcp %d", r.Name, port)
	}
	ln.Close()
}

// ServeUDP starts a UDP server on port.
func (r *Real) ServeUDP(t testing.TB, port int) {
	t.Helper()
	var pc net.PacketConn
	if err := r.Host.Do(func() (err error) {
		pc, err = net.ListenPacket("udp4", ":"+strconv.Itoa(port))
		return err
	}); err != nil {
		t.Fatalf("ipvslab: %s: listen udp %d: %v", r.Name, port, err)
	}
	r.mu.Lock()
	if r.udp == nil {
		r.udp = map[int]net.PacketConn{}
	}
	r.udp[port] = pc
	r.mu.Unlock()
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo([]byte(r.Name+" "+string(buf[:n])), from)
		}
	}()
}

// Conn is a client's TCP connection through a virtual service.
type Conn struct {
	c net.Conn
	r *bufio.Reader
}

// Dial connects from the client to addr ("VIP:port").
func (l *Lab) Dial(t testing.TB, addr string) (*Conn, error) {
	t.Helper()
	var c net.Conn
	err := l.Client.Do(func() (err error) {
		c, err = net.DialTimeout("tcp4", addr, 10*time.Second)
		return err
	})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return &Conn{c: c, r: bufio.NewReader(c)}, nil
}

// Ask sends one line and returns the name of the real server that
// answered it.
func (c *Conn) Ask(line string) (string, error) {
	if err := c.c.SetDeadline(time.Now().Add(15 * time.Second)); err != nil {
		return "", err
	}
	if _, err := io.WriteString(c.c, line+"\n"); err != nil {
		return "", err
	}
	got, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	name, rest, _ := strings.Cut(strings.TrimSpace(got), " ")
	if rest != line {
		return "", fmt.Errorf("ipvslab: answer %q to %q", got, line)
	}
	return name, nil
}

// Close closes the connection.
func (c *Conn) Close() error { return c.c.Close() }

// AskOnce connects to addr, sends one line and returns who answered.
func (l *Lab) AskOnce(t testing.TB, addr string) (string, error) {
	t.Helper()
	c, err := l.Dial(t, addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	return c.Ask("hello")
}

// AskUDP sends one datagram from the client to addr and returns who
// answered.
func (l *Lab) AskUDP(t testing.TB, addr string) (string, error) {
	t.Helper()
	var pc net.Conn
	if err := l.Client.Do(func() (err error) {
		pc, err = net.Dial("udp4", addr)
		return err
	}); err != nil {
		return "", err
	}
	defer pc.Close()
	buf := make([]byte, 1500)
	for range 5 {
		if _, err := pc.Write([]byte("ping")); err != nil {
			return "", err
		}
		_ = pc.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := pc.Read(buf)
		if err != nil {
			continue
		}
		name, rest, _ := strings.Cut(string(buf[:n]), " ")
		if rest != "ping" {
			return "", fmt.Errorf("ipvslab: answer %q to ping", buf[:n])
		}
		return name, nil
	}
	return "", fmt.Errorf("ipvslab: no UDP answer from %s", addr)
}
