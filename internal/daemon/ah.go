package daemon

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/vrrp"
)

// ahInstance is the IPsec-AH side of a VRRPv2 instance with auth_type AH:
// its key and the sequence counter keepalived shares between sending and
// the replay check. Only the loop touches it; it survives a reload that
// keeps or restarts the instance (keepalived keeps the counter too), so
// that peers keep accepting our numbers.
type ahInstance struct {
	pass  string
	codec *vrrp.AH
	st    vrrp.AHState
	buf   []byte // send buffer
}

// ahPass returns the AH key of ic, or "" when ic does not use AH.
func ahPass(ic *config.Instance) string {
	if ic.Auth == nil || ic.Auth.Type != "AH" || ic.IPv6 || ic.Version != 2 {
		return ""
	}
	return ic.Auth.Pass
}

// setupAH gives inst its AH state when its configuration asks for AH,
// keeping the running one when the key is unchanged.
func (inst *instance) setupAH() {
	pass := ahPass(inst.cfg)
	switch {
	case pass == "":
		inst.ah = nil
	case inst.ah == nil || inst.ah.pass != pass:
		inst.ah = &ahInstance{pass: pass, codec: vrrp.NewAH(pass), buf: make([]byte, 0, vrrp.MaxAHDatagramLen)}
	}
}

// sendAH sends inst.advert under AH to every destination: one sequence
// number and IPv4 identification per round, as keepalived numbers them.
func (inst *instance) sendAH() {
	ah := inst.ah
	seq, id := ah.st.Next()
	w, ok := inst.conn.c.(vrrp.DatagramWriter)
	for _, dst := range inst.dsts {
		if !ok {
			inst.sent(dst, fmt.Errorf("the VRRP socket on %s cannot send AH datagrams", inst.cfg.Interface))
			continue
		}
		d, err := ah.codec.Append(ah.buf[:0], &inst.advert, vrrp.AHParams{
			Src: inst.conn.c.LocalAddr(), Dst: dst, ID: id, Seq: seq, Unicast: len(inst.check.Peers) > 0,
			TTL: uint8(inst.cfg.UnicastTTL),
		})
		if err == nil {
			ah.buf = d[:0]
			err = w.WriteDatagram(d, dst)
		}
		inst.sent(dst, err)
	}
}

// openAH authenticates raw, an AH datagram for inst: the ICV and SPI
// (AH.Open), then the replay check against the shared counter. It returns
// the VRRP message and its sequence number, or counts the drop, logs it
// (rate-limited, naming the peer) and returns ok false. Nothing else about
// the instance changes.
func (d *Daemon) openAH(inst *instance, raw []byte, m vrrp.RecvMeta, now time.Time) (msg []byte, seq uint32, ok bool) {
	ah := inst.ah
	msg, seq, r := ah.codec.Open(raw, len(inst.check.Peers) > 0)
	if r == vrrp.DropNone && !ah.st.Accept(seq) {
		r = vrrp.DropAHReplay
	}
	if r == vrrp.DropNone {
		return msg, seq, true
	}
	inst.rx[r]++
	if inst.rl.allow(slog.LevelWarn, "AH authentication failures", inst.cfg.Name, r.String(), now) {
		var line string
		switch r {
		case vrrp.DropAHICV:
			line = fmt.Sprintf("(%s) IPSEC-AH: invalid HMAC-MD5 value in the advert from %s (a wrong auth_pass or a forgery): dropped", inst.cfg.Name, m.Src)
		case vrrp.DropAHSPI:
			line = fmt.Sprintf("(%s) IPSEC-AH: SPI of the advert from %s is not its address: dropped", inst.cfg.Name, m.Src)
		case vrrp.DropAHReplay:
			line = fmt.Sprintf("(%s) IPSEC-AH: sequence number %d from %s already processed (ours %d): dropped", inst.cfg.Name, seq, m.Src, ah.st.Seq())
		default:
			line = fmt.Sprintf("(%s) IPSEC-AH: malformed AH datagram from %s: dropped", inst.cfg.Name, m.Src)
		}
		inst.log.Warn(line+" (further ones are summarised)", "from", m.Src, "reason", r.String())
	}
	return nil, 0, false
}

// peekAHVRID returns the VRID of the advert inside an AH datagram.
func peekAHVRID(raw []byte) (uint8, bool) {
	msg, _, ok := vrrp.SplitAH(raw)
	if !ok {
		return 0, false
	}
	return vrrp.PeekVRID(msg)
}

// heardAH keeps keepalived's numbering when a master accepts an advert
// that loses to ours: the counter moves past the other router's number
// before we answer it.
func (inst *instance) heardAH(ev vrrp.AdvertReceived, seq uint32) {
	if inst.ah != nil && inst.m.State() == vrrp.StateMaster && ev.Priority > 0 && inst.lowerThanUs(ev) {
		inst.ah.st.HeardLower(seq)
	}
}
