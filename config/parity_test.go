package config

import (
	"strings"
	"testing"
)

// TestUnicastTTL: unicast_ttl is applied (no "not implemented" notice);
// 0, which the kernel will not send, becomes 1 with a warning; without
// unicast peers it is ignored with keepalived's warning and 255 stays.
func TestUnicastTTL(t *testing.T) {
	peers := "    unicast_peer {\n        192.0.2.2\n    }\n"
	for _, tc := range []struct {
		body string
		want int
		warn string
	}{
		{peers + "    unicast_ttl 64\n", 64, ""},
		{peers, 255, ""},
		{peers + "    unicast_ttl 0\n", 1, "a TTL of 0 cannot be sent (using 1)"},
		{"    unicast_ttl 64\n", 255, "cannot use unicast_ttl without unicast peers"},
	} {
		cfg, complaints, _ := load(t, instConf(tc.body), testOpts())
		if got := cfg.Instances[0].UnicastTTL; got != tc.want {
			t.Errorf("%q: UnicastTTL %d, want %d", tc.body, got, tc.want)
		}
		joined := strings.Join(complaints, "\n")
		if tc.warn == "" && len(complaints) != 0 || tc.warn != "" && !strings.Contains(joined, tc.warn) {
			t.Errorf("%q: complaints %q, want %q", tc.body, complaints, tc.warn)
		}
	}
}
