package testnet

import (
	"strconv"
	"strings"
	"testing"
)

func TestAsNobody(t *testing.T) {
	uid, _ := Nobody(t)
	out, err := AsNobody(t, "id", "-u")
	if err != nil {
		t.Fatalf("id -u as nobody: %v: %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != strconv.FormatUint(uint64(uid), 10) {
		t.Fatalf("id -u as nobody printed %q, want %d", got, uid)
	}
	// nobody cannot write where only root can.
	if out, err := AsNobody(t, "sh", "-c", "echo x > /root/.vigil-nobody-probe"); err == nil {
		t.Fatalf("nobody wrote into /root: %s", out)
	}
}
