package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/ftfw"
)

// CTDump answers ct dump internal and ct dump external: the entries of one
// cache of the replication, as conntrackd -i and -e list theirs.
type CTDump struct {
	Cache   string    `json:"cache"` // "internal" or "external"
	Entries []CTEntry `json:"entries"`
	// Expectations are the cache's expectations (expectation_sync), as
	// conntrackd -i expect and -e expect list them.
	Expectations []CTExpect `json:"expectations,omitempty"`
}

// CTExpect is one expectation of a cache: the expected connection's tuple
// and mask, and its master's original tuple.
type CTExpect struct {
	Proto      string    `json:"proto"`
	ProtoNum   uint8     `json:"proto_num"`
	Tuple      CTTuple   `json:"tuple"`
	Mask       CTTuple   `json:"mask"`
	Master     CTTuple   `json:"master"`
	TimeoutSec uint32    `json:"timeout"` // as last sent or read (0: not sent)
	Flags      uint32    `json:"flags,omitempty"`
	Class      uint32    `json:"class,omitempty"`
	Helper     string    `json:"helper,omitempty"`
	Fn         string    `json:"fn,omitempty"`
	Updated    time.Time `json:"updated"`
}

// NewCTExpect describes e.
func NewCTExpect(e *conntracksync.ExpectEntry) CTExpect {
	x := &e.Expect
	tuple := func(t ftfw.ExpTuple) CTTuple {
		return CTTuple{Src: t.Src, Dst: t.Dst, SrcPort: t.SrcPort, DstPort: t.DstPort}
	}
	return CTExpect{Proto: conntracksync.ProtocolName(x.Tuple.Proto), ProtoNum: x.Tuple.Proto,
		Tuple: tuple(x.Tuple), Mask: tuple(x.Mask), Master: tuple(x.Master), TimeoutSec: x.TimeoutSecs,
		Flags: x.Flags, Class: x.Class, Helper: x.Helper, Fn: x.Fn, Updated: e.Updated}
}

// CTEntry is one connection of a cache.
type CTEntry struct {
	Proto    string   `json:"proto"` // TCP, UDP, ICMP, ... or the number
	ProtoNum uint8    `json:"proto_num"`
	Orig     CTTuple  `json:"orig"`
	Reply    CTTuple  `json:"reply"`
	Master   *CTTuple `json:"master,omitempty"` // of a related connection
	// State is the TCP state (SCTP and DCCP: their state number); "" for
	// protocols without one.
	State  string `json:"state,omitempty"`
	Status uint32 `json:"status"` // IPS_* bits
	// TimeoutSec is the timeout the entry had when it was last updated
	// (0: not sent, the peer has CommitTimeout), Updated when that was.
	TimeoutSec uint32    `json:"timeout"`
	Mark       uint32    `json:"mark,omitempty"`
	Zone       uint16    `json:"zone,omitempty"`
	Helper     string    `json:"helper,omitempty"`
	Updated    time.Time `json:"updated"`
}

// CTTuple is one direction of a connection; ports for TCP, UDP, SCTP,
// DCCP and UDP-Lite, type, code and id for ICMP.
type CTTuple struct {
	Src      netip.Addr `json:"src"`
	Dst      netip.Addr `json:"dst"`
	SrcPort  uint16     `json:"sport,omitempty"`
	DstPort  uint16     `json:"dport,omitempty"`
	ICMPType *uint8     `json:"type,omitempty"`
	ICMPCode *uint8     `json:"code,omitempty"`
	ICMPID   *uint16    `json:"id,omitempty"`
}

// NewCTEntry describes e.
func NewCTEntry(e *conntracksync.Entry) CTEntry {
	f := &e.Flow
	out := CTEntry{Proto: conntracksync.ProtocolName(f.Orig.Proto), ProtoNum: f.Orig.Proto, Orig: ctTuple(f.Orig), Reply: ctTuple(f.Reply),
		Status: f.Status, TimeoutSec: f.TimeoutSec, Mark: f.Mark, Zone: f.Zone, Helper: f.Helper, Updated: e.Updated}
	if f.Related() {
		m := ctTuple(f.Master)
		out.Master = &m
	}
	switch f.Orig.Proto {
	case conntracksync.ProtoTCP:
		out.State = conntracksync.TCPStateName(f.TCPState)
	case conntracksync.ProtoSCTP:
		out.State = fmt.Sprint(f.SCTPState)
	case conntracksync.ProtoDCCP:
		out.State = fmt.Sprint(f.DCCPState)
	}
	return out
}

func ctTuple(t conntracksync.Tuple) CTTuple {
	out := CTTuple{Src: t.Src, Dst: t.Dst}
	switch {
	case conntracksync.HasPorts(t.Proto):
		out.SrcPort, out.DstPort = t.SrcPort, t.DstPort
	case t.Proto == conntracksync.ProtoICMP || t.Proto == conntracksync.ProtoICMPv6:
		typ, code, id := t.ICMPType, t.ICMPCode, t.ICMPID
		out.ICMPType, out.ICMPCode, out.ICMPID = &typ, &code, &id
	}
	return out
}

// maxDumpAnswer bounds a ct dump's answer: about 400 bytes an entry, for
// a few million entries.
const maxDumpAnswer = 1 << 30

// CTDump asks for the internal cache, or with external the external one.
// It returns the dump and the answer as it came.
func (c *Client) CTDump(ctx context.Context, external bool) (CTDump, []byte, error) {
	cmd := CmdCTDumpInternal
	if external {
		cmd = CmdCTDumpExternal
	}
	cl := *c
	if cl.MaxAnswer <= 0 {
		cl.MaxAnswer = maxDumpAnswer
	}
	var d CTDump
	raw, err := cl.Do(ctx, cmd)
	if err != nil {
		return d, raw, err
	}
	if err := decodeDoc(raw, &d); err != nil || d.Cache == "" {
		return d, raw, fmt.Errorf("ctl: %s: bad answer from vigild: %.200q", cmd, raw)
	}
	return d, raw, nil
}

// CTStats asks for the replication's status (ct stats) and returns it with
// the answer as it came.
func (c *Client) CTStats(ctx context.Context) (CTStatus, []byte, error) {
	var s CTStatus
	raw, err := c.Do(ctx, CmdCTStats)
	if err != nil {
		return s, raw, err
	}
	if err := decodeDoc(raw, &s); err != nil {
		return s, raw, fmt.Errorf("ctl: %s: bad answer from vigild: %.200q", CmdCTStats, raw)
	}
	return s, raw, nil
}

// decodeDoc decodes a document answer into v; a Result is an error.
func decodeDoc(raw []byte, v any) error {
	if res, ok := asResult(raw); ok {
		return fmt.Errorf("a result (%s), not a document", res.Result)
	}
	return json.Unmarshal(raw, v)
}
