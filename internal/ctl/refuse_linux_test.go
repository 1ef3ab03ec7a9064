package ctl

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pair returns both ends of a fresh unix stream connection: the server's
// (as accepted) and the client's.
func pair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client, err = net.Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// TestPeerUID: SO_PEERCRED names the user at the other end, here our
// own, which the rule lets in; anything but a unix socket is refused.
func TestPeerUID(t *testing.T) {
	srv, _ := pair(t)
	peer, ok, err := allowedPeer(srv)
	if err != nil || !ok || peer.UID != uint32(os.Geteuid()) || peer.PID != int32(os.Getpid()) {
		t.Errorf("peer of our own connection: %+v ok %v err %v; want uid %d pid %d allowed", peer, ok, err, os.Geteuid(), os.Getpid())
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, ok, err := allowedPeer(a); ok || err == nil {
		t.Errorf("a connection without credentials was allowed (%v)", err)
	}
}

// TestAllowedUID: root and vigild's own user, nobody else.
func TestAllowedUID(t *testing.T) {
	for _, tc := range []struct {
		uid, euid uint32
		want      bool
	}{
		{0, 0, true},
		{0, 998, true},
		{998, 998, true},
		{998, 0, false},
		{65534, 0, false},
		{65534, 998, false},
	} {
		if got := allowedUID(tc.uid, tc.euid); got != tc.want {
			t.Errorf("uid %d to a vigild running as %d: %v, want %v", tc.uid, tc.euid, got, tc.want)
		}
	}
}

// TestRefuse: a refused client reads the reason even when it writes its
// command after the answer, and more than it (nothing of it is run);
// a peer whose uid cannot be read is told so.
func TestRefuse(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, "permission denied: uid 65534 may not use vigild's control socket"},
		{errors.New("no credentials"), "permission denied: cannot tell who is connecting: no credentials"},
	} {
		srv, cl := pair(t)
		done := make(chan struct{})
		go func() {
			defer close(done)
			srv.SetDeadline(time.Now().Add(time.Minute))
			refuse(srv, 65534, tc.err)
			srv.Close()
		}()
		time.Sleep(10 * time.Millisecond) // let the answer go first, as it does for a slow client
		io.WriteString(cl, "reload\n"+strings.Repeat("x", 8000))
		cl.(*net.UnixConn).CloseWrite()
		cl.SetReadDeadline(time.Now().Add(time.Minute))
		b, err := io.ReadAll(cl)
		<-done
		var res Result
		if err != nil || json.Unmarshal(b, &res) != nil || res.Result != ResultFailed || res.Error != tc.want {
			t.Errorf("refused client read %q, %v; want a failed Result %q", b, err, tc.want)
		}
	}
}
