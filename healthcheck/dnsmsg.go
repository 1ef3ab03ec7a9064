package healthcheck

import (
	"errors"
	"strings"
)

// DNS types DNS_CHECK may ask for (RFC 1035 §3.2.2, RFC 3596, RFC 4034).
var dnsTypes = map[string]uint16{"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28, "RRSIG": 46, "DNSKEY": 48}

// DNSType maps a DNS_CHECK type name (any case) to its number.
func DNSType(name string) (uint16, bool) {
	t, ok := dnsTypes[strings.ToUpper(name)]
	return t, ok
}

var errDNSName = errors.New("healthcheck: invalid DNS name")

// AppendDNSQuery appends the query keepalived's DNS_CHECK sends (RFC 1035
// §4.1): header with id, RD set and one question, then name (empty or "."
// is the root; empty labels are refused), qtype and class IN. No EDNS.
//
//	 0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15
//	|                      ID                       |
//	|QR|  Opcode   |AA|TC|RD|RA|   Z    |   RCODE   |
//	|    QDCOUNT=1 | ANCOUNT=0 | NSCOUNT=0 | ARCOUNT=0 |
//	| QNAME (labels) | QTYPE | QCLASS=1 |
func AppendDNSQuery(b []byte, id uint16, qtype uint16, name string) ([]byte, error) {
	b = append(b, byte(id>>8), byte(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0)
	name = strings.TrimSuffix(name, ".")
	n := 1
	if name != "" {
		for _, l := range strings.Split(name, ".") {
			if l == "" || len(l) > 63 {
				return nil, errDNSName
			}
			n += 1 + len(l)
			b = append(b, byte(len(l)))
			b = append(b, l...)
		}
	}
	if n > 255 {
		return nil, errDNSName
	}
	return append(b, 0, byte(qtype>>8), byte(qtype), 0, 1), nil
}

// DNSReply is the part of a reply's header DNS_CHECK looks at.
type DNSReply struct {
	ID    uint16
	QR    bool
	RCode uint8
}

// ParseDNSReply reads a reply's header; ok is false for a message shorter
// than the 12-byte header.
func ParseDNSReply(b []byte) (DNSReply, bool) {
	if len(b) < 12 {
		return DNSReply{}, false
	}
	return DNSReply{ID: uint16(b[0])<<8 | uint16(b[1]), QR: b[2]&0x80 != 0, RCode: b[3] & 0x0f}, true
}
