package ctltest

import (
	"bufio"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
)

// Server is a stand-in vigild for client tests: a unix socket in a fresh
// directory whose every connection gets its request line read and then
// answer's output, whatever was asked. It stands for answers the real
// server does not give to a test (a refusal for another uid, a broken
// document). Its path is returned; it stops at the test's end.
func Server(t testing.TB, answer func(w io.Writer)) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ctl.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			bufio.NewReader(c).ReadString('\n')
			answer(c)
			c.Close()
		}
	})
	return path
}
