package healthcheck

import "fmt"

// Kind is a checker type, named as in keepalived.conf.
type Kind uint8

// The checker kinds vigil runs.
const (
	KindTCP Kind = iota + 1
	KindHTTP
	KindSSL
	KindMisc
	KindDNS
	KindUDP
	KindPing
	KindFile
	KindSMTP
)

var kindNames = [...]string{KindTCP: "TCP_CHECK", KindHTTP: "HTTP_GET", KindSSL: "SSL_GET", KindMisc: "MISC_CHECK",
	KindDNS: "DNS_CHECK", KindUDP: "UDP_CHECK", KindPing: "PING_CHECK", KindFile: "FILE_CHECK", KindSMTP: "SMTP_CHECK"}

// String returns the keepalived.conf block name.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// ParseKind maps a keepalived.conf block name to its Kind.
func ParseKind(s string) (Kind, bool) {
	for k, n := range kindNames {
		if n != "" && n == s {
			return Kind(k), true
		}
	}
	return 0, false
}

// RSID identifies a real server: the index of its virtual_server in
// config.Config.VirtualServers and of the real_server in that virtual
// server's RealServers. It is stable for one loaded configuration; a
// reload must map old to new identities by address (see doc.go).
type RSID struct {
	VS int `json:"vs"`
	RS int `json:"rs"`
}

// String returns "vs/rs".
func (r RSID) String() string { return fmt.Sprintf("%d/%d", r.VS, r.RS) }

// CheckerID identifies one checker: its real server and its index in
// config.RealServer.Checkers.
type CheckerID struct {
	RSID
	Checker int `json:"checker"`
}

// String returns "vs/rs/checker".
func (c CheckerID) String() string { return fmt.Sprintf("%d/%d/%d", c.VS, c.RS, c.Checker) }

// MarshalText writes the block name (JSON status and metrics labels).
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads a block name MarshalText wrote (a status document
// read back by vigilctl).
func (k *Kind) UnmarshalText(b []byte) error {
	v, ok := ParseKind(string(b))
	if !ok {
		return fmt.Errorf("healthcheck: unknown checker kind %q", b)
	}
	*k = v
	return nil
}

// UnmarshalText reads a name MarshalText wrote; "unknown" is the zero
// Verdict.
func (v *Verdict) UnmarshalText(b []byte) error {
	for _, x := range []Verdict{0, Success, Failure, Skip, Partial} {
		if x.String() == string(b) {
			*v = x
			return nil
		}
	}
	return fmt.Errorf("healthcheck: unknown verdict %q", b)
}
